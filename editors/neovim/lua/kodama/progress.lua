-- A one-line echo of kodama-lsp's work-done progress (never a hit-enter prompt). It listens to
-- the LspProgress autocmd that Neovim fires from its own `$/progress` handler, so
-- vim.lsp.status() and fidget.nvim-style plugins get the same events (set
-- `vim.g.kodama = { progress = false }` to leave the display to them).
local state = require('kodama.state')

local M = {}

local function is_kodama(client_id)
  local c = vim.lsp.get_client_by_id(client_id)
  return c and c.name == require('kodama.client').NAME
end

-- The server's titles already say "Kodama: …": name it once.
local function label(title)
  title = tostring(title)
  return title:find('^Kodama') and title or ('Kodama: ' .. title)
end

-- One line that fits the command line: a longer echo would stop the editor at a hit-enter
-- prompt in the middle of a start.
local function one_line(text)
  text = text:gsub('%s+', ' ')
  local room = vim.v.echospace
  if room and room > 1 and vim.fn.strdisplaywidth(text) > room then
    text = vim.fn.strcharpart(text, 0, room - 2) .. '…'
  end
  return text
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
    text = ('%s: %s'):format(label(title), value.message or 'done')
  else
    text = label(title)
    if value.message then
      text = text .. ': ' .. value.message
    end
    if value.percentage then
      text = text .. (' (%d%%)'):format(value.percentage)
    end
  end
  -- Statuslines that show vim.lsp.status() pick the new message up now.
  pcall(vim.cmd.redrawstatus)
  if require('kodama.settings').get().progress ~= false then
    vim.api.nvim_echo({ { one_line(text) } }, false, {})
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
