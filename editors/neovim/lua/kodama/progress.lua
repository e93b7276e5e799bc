-- A minimal echo of kodama-lsp's work-done progress. It listens to the LspProgress autocmd
-- that Neovim fires from its own `$/progress` handler, so fidget.nvim-style plugins keep
-- receiving the same events (set `vim.g.kodama = { progress = false }` to leave it to them).
local state = require('kodama.state')

local M = {}

local function is_kodama(client_id)
  local c = vim.lsp.get_client_by_id(client_id)
  return c and c.name == require('kodama.client').NAME
end

---@param ev {data: {client_id: integer, params: {token: string|integer, value: table}}}
function M.on_progress(ev)
  local data = ev.data or {}
  local params = data.params or {}
  local value = params.value
  if type(value) ~= 'table' or not is_kodama(data.client_id) then
    return
  end
  local token = params.token
  if value.kind == 'begin' then
    state.progress[token] = { client_id = data.client_id, title = value.title }
  end
  local title = value.title or (state.progress[token] or {}).title or 'working'
  local text
  if value.kind == 'end' then
    state.progress[token] = nil
    text = ('Kodama: %s: %s'):format(title, value.message or 'done')
  else
    text = ('Kodama: %s'):format(title)
    if value.message then
      text = text .. ': ' .. value.message
    end
    if value.percentage then
      text = text .. (' (%d%%)'):format(value.percentage)
    end
  end
  if require('kodama.settings').get().progress ~= false then
    vim.api.nvim_echo({ { text } }, false, {})
  end
end

--- Asks the server to cancel every kodama progress still running; false when there was none.
function M.cancel_all()
  local any = false
  for token, p in pairs(state.progress) do
    local c = vim.lsp.get_client_by_id(p.client_id)
    if c then
      c:notify('window/workDoneProgress/cancel', { token = token })
      any = true
    end
  end
  return any
end

return M
