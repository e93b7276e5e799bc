-- What the client has learned from the server, kept for completion, the sessions buffer and
-- statuslines. The cluster stays the source of truth: this is only the last thing we heard.
local M = {
  ---@type table[]|nil  last Session[] (nil until the server told us anything)
  sessions = nil,
  ---@type table<string, table>  SyncStatus by session name
  sync = {},
  ---@type table<string, table>  last agentState notification by session name
  agents = {},
  ---@type table<string, integer>  error messages already shown (message -> uv.now() ms)
  shown_errors = {},
  ---@type table<string|integer, {client_id: integer, title: string?}>  live progress tokens
  progress = {},
}

function M.set_sessions(sessions)
  M.sessions = sessions or {}
  for _, s in ipairs(M.sessions) do
    if type(s.sync) == 'table' then
      M.sync[s.name] = s.sync
    end
  end
  vim.api.nvim_exec_autocmds('User', { pattern = 'KodamaSessionsChanged', modeline = false })
end

--- Session names known from the cache, sorted.
---@return string[]|nil
function M.names()
  if not M.sessions then
    return nil
  end
  local names = {}
  for _, s in ipairs(M.sessions) do
    names[#names + 1] = s.name
  end
  table.sort(names)
  return names
end

---@return table|nil
function M.find(name)
  for _, s in ipairs(M.sessions or {}) do
    if s.name == name then
      return s
    end
  end
end

--- Replaces (or adds) one session after a command returned it.
function M.upsert(session)
  if type(session) ~= 'table' or not session.name then
    return
  end
  M.sessions = M.sessions or {}
  for i, s in ipairs(M.sessions) do
    if s.name == session.name and s.namespace == session.namespace then
      M.sessions[i] = session
      return
    end
  end
  table.insert(M.sessions, session)
end

function M.remove(name)
  for i, s in ipairs(M.sessions or {}) do
    if s.name == name then
      table.remove(M.sessions, i)
      return
    end
  end
end

return M
