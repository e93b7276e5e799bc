-- Handlers for what kodama-lsp sends to the client (docs/lsp-protocol.md, "Server -> client").
local state = require('kodama.state')

local M = {}

local function notify(msg, level)
  msg = tostring(msg)
  -- Some server messages already start with "Kodama…" ("Kodama doctor: …"): prefix once.
  vim.notify(msg:find('^Kodama') and msg or ('Kodama: ' .. msg), level or vim.log.levels.INFO)
end
M.notify = notify

local handlers = {}

-- Request: open a terminal running argv. Returning {opened = false} lets the server fall back.
handlers['kodama/openTerminal'] = function(_, params)
  local ok, err = pcall(require('kodama.terminal').open, params or {})
  if not ok then
    notify('could not open the terminal: ' .. tostring(err), vim.log.levels.ERROR)
  end
  return { opened = ok }
end

handlers['kodama/sessionsChanged'] = function(_, params)
  state.set_sessions(params and params.sessions or {})
  require('kodama.ui').refresh_list_buffers()
end

handlers['kodama/syncStatus'] = function(_, params)
  if not (params and params.name and type(params.status) == 'table') then
    return
  end
  local before = state.sync[params.name] or {}
  local now = params.status
  state.sync[params.name] = now
  -- Speak only when something needs the user: a new error or new conflicts.
  if now.lastError and now.lastError ~= vim.NIL and now.lastError ~= before.lastError then
    notify(('sync of %s: %s'):format(params.name, now.lastError), vim.log.levels.WARN)
  end
  local conflicts = type(now.conflicts) == 'table' and #now.conflicts or 0
  local had = type(before.conflicts) == 'table' and #before.conflicts or 0
  if conflicts > 0 and conflicts ~= had then
    notify(
      ('sync of %s has %d conflict(s) — :Kodama status %s'):format(params.name, conflicts, params.name),
      vim.log.levels.WARN
    )
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'KodamaSyncStatus', modeline = false, data = params })
end

handlers['kodama/agentState'] = function(_, params)
  if not (params and params.name) then
    return
  end
  local before = state.agents[params.name]
  state.agents[params.name] = params
  local s = state.find(params.name)
  if s then
    s.agent = {
      state = params.state,
      message = params.message,
      since = params.since,
      exitCode = params.exitCode,
    }
  end
  local changed = not before or before.state ~= params.state or before.message ~= params.message
  if changed and params.state == 'waiting' then
    local msg = params.message
    if msg == nil or msg == vim.NIL or msg == '' then
      msg = 'input needed'
    end
    notify(
      ('session %s is waiting for you: %s — :Kodama attach %s'):format(params.name, msg, params.name),
      vim.log.levels.WARN
    )
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'KodamaAgentState', modeline = false, data = params })
end

-- Route the server's messages through vim.notify (so notification plugins show them) and
-- remember errors, so a failed command does not report the same line twice.
handlers['window/showMessage'] = function(_, params)
  local levels = { vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO, vim.log.levels.DEBUG }
  local level = levels[params.type] or vim.log.levels.INFO
  if level == vim.log.levels.ERROR then
    state.shown_errors[params.message] = vim.uv.now()
  end
  notify(params.message, level)
  return params
end

M.handlers = handlers

return M
