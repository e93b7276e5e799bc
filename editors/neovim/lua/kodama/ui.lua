-- Rendering: the sessions buffer, session details and sync status lines.
local state = require('kodama.state')

local M = {}

local LIST_NAME = 'kodama://sessions'

local function str(v)
  if v == nil or v == vim.NIL then
    return '-'
  end
  return tostring(v)
end

-- Seconds since the epoch (fractions kept) for an RFC 3339 UTC timestamp ("2026-11-27T10:00:00Z").
function M.epoch(ts)
  if type(ts) ~= 'string' then
    return nil
  end
  local y, mo, d, h, mi, s, frac = ts:match('^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)(%.?%d*)')
  if not y then
    return nil
  end
  local t = os.time({ year = y, month = mo, day = d, hour = h, min = mi, sec = s, isdst = false })
  -- os.time() reads the table as local time; shift it back to UTC.
  local now = os.time()
  local utc_offset = os.difftime(now, os.time(os.date('!*t', now) --[[@as osdateparam]]))
  return t + utc_offset + (tonumber('0' .. frac) or 0)
end

--- The AGE column, ticking between the server's notifications (its display.age is as of the
--- last one). kodama/present.py's rule, pinned by tests/fixtures/presentation.json.
---@param ts string|nil createdAt
---@param now number|nil seconds since the epoch (default: now)
function M.age(ts, now)
  local t = M.epoch(ts)
  if not t then
    return '-'
  end
  local secs = math.max(0, math.floor((now or os.time()) - t))
  if secs < 120 then
    return secs .. 's'
  elseif secs < 3 * 3600 then
    return math.floor(secs / 60) .. 'm'
  elseif secs < 48 * 3600 then
    return math.floor(secs / 3600) .. 'h'
  end
  return math.floor(secs / 86400) .. 'd'
end

--- The AGENT column: the server's label, its duration ticked like the age from display.agentSince
--- (display.agent is as of the last notification). Pinned by tests/fixtures/presentation.json.
---@param d table a session's display
---@param now number|nil seconds since the epoch (default: now)
function M.agent_cell(d, now)
  if type(d.agentLabel) ~= 'string' then
    return d.agent -- a server that does not send the label: its cell as it was
  end
  if type(d.agentSince) ~= 'string' then
    return d.agentLabel
  end
  return d.agentLabel .. ' ' .. M.age(d.agentSince, now)
end

-- The input box's words for a name the engine refuses (kodama/present.py name_problem), so a
-- bad name is refused before any server call.
local NAME_CHARS = "Lowercase letters, digits and '-', starting and ending with a letter or digit."
M.MAX_SESSION_NAME = 40

---@param name string
---@return string|nil problem nil when the name is acceptable
function M.name_problem(name)
  if name == '' then
    return 'Enter a session name.'
  elseif vim.fn.strchars(name) > M.MAX_SESSION_NAME then
    return ('At most %d characters.'):format(M.MAX_SESSION_NAME)
  elseif not (name:match('^[a-z0-9]$') or name:match('^[a-z0-9][-a-z0-9]*[a-z0-9]$')) then
    return NAME_CHARS
  end
  return nil
end

--- "2 running, 1 waiting" for the sessions held ('' when nothing runs or waits), as
--- kodama/present.py sessions_summary words it.
function M.sessions_summary(sessions)
  local running, waiting = 0, 0
  for _, s in ipairs(sessions or {}) do
    if s.status == 'Running' then
      running = running + 1
    end
    if type(s.agent) == 'table' and s.agent.state == 'waiting' then
      waiting = waiting + 1
    end
  end
  if running == 0 and waiting == 0 then
    return ''
  end
  return ('%d running'):format(running) .. (waiting > 0 and (', %d waiting'):format(waiting) or '')
end

-- The server's words for a session (display); bare raw fields from a server without them.
local function shown(s)
  if type(s.display) == 'table' then
    return s.display
  end
  local agent = type(s.agent) == 'table' and str(s.agent.state) or '-'
  local sync = type(s.sync) == 'table' and str(s.sync.state) or 'off'
  return { status = str(s.status), agent = agent, sync = sync, actions = {}, detail = {} }
end

--- Table lines for sessions, kubectl-style; returns lines and the session name of each line.
---@param sessions table[]
---@param all_namespaces boolean|nil
---@param now number|nil seconds since the epoch, for the AGE column (default: now)
---@return string[], table<integer, table>
function M.session_table(sessions, all_namespaces, now)
  local header = { 'NAME', 'STATUS', 'AGENT', 'BRANCH', 'SYNC', 'AGE' }
  if all_namespaces then
    table.insert(header, 1, 'NAMESPACE')
  end
  local rows = { header }
  local by_line = {}
  local sorted = vim.deepcopy(sessions or {})
  -- The sessions of a fan-out (same family) sit together, under their family's name.
  local function family(s)
    return (s.family and s.family ~= vim.NIL) and tostring(s.family) or nil
  end
  table.sort(sorted, function(a, b)
    if a.namespace ~= b.namespace then
      return str(a.namespace) < str(b.namespace)
    end
    local ka, kb = family(a) or str(a.name), family(b) or str(b.name)
    if ka ~= kb then
      return ka < kb
    end
    if (family(a) == nil) ~= (family(b) == nil) then
      return family(a) ~= nil
    end
    return str(a.name) < str(b.name)
  end)
  for _, s in ipairs(sorted) do
    local d = shown(s)
    local row = { str(s.name), d.status, M.agent_cell(d, now), str(s.branch), d.sync, M.age(s.createdAt, now) }
    if all_namespaces then
      table.insert(row, 1, str(s.namespace))
    end
    rows[#rows + 1] = row
    by_line[#rows] = s
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      widths[i] = math.max(widths[i] or 0, vim.fn.strdisplaywidth(cell))
    end
  end
  local lines = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and (cell .. string.rep(' ', widths[i] - vim.fn.strdisplaywidth(cell))) or cell
    end
    lines[#lines + 1] = table.concat(cells, '   ')
  end
  if #sorted == 0 then
    lines[#lines + 1] = '(no sessions — :Kodama start NAME)'
  end
  return lines, by_line
end

local function list_buffer()
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_valid(buf) and vim.api.nvim_buf_get_name(buf) == LIST_NAME then
      return buf
    end
  end
end

local function render(buf, sessions, all_namespaces)
  local lines, by_line = M.session_table(sessions, all_namespaces)
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  vim.b[buf].kodama_all_namespaces = all_namespaces or false
  -- Line number -> session name, for the buffer's keymaps.
  local names = {}
  for lnum, s in pairs(by_line) do
    names[tostring(lnum)] = s.name
  end
  vim.b[buf].kodama_lines = names
end

local function session_under_cursor(buf)
  local lnum = vim.api.nvim_win_get_cursor(0)[1]
  local names = vim.b[buf].kodama_lines or {}
  return names[tostring(lnum)]
end

local function map_keys(buf)
  local function on_session(sub)
    return function()
      local name = session_under_cursor(buf)
      if name then
        require('kodama.commands').run({ sub, name })
      end
    end
  end
  local maps = {
    ['<CR>'] = { on_session('attach'), 'attach' },
    a = { on_session('attach'), 'attach' },
    s = { on_session('stop'), 'stop' },
    r = { on_session('resume'), 'resume' },
    D = { on_session('delete'), 'delete (asks first)' },
    f = { on_session('fetch'), 'fetch the branch' },
    i = { on_session('status'), 'status' },
    R = {
      function()
        require('kodama.commands').run({ 'list', vim.b[buf].kodama_all_namespaces and '-A' or nil })
      end,
      'refresh',
    },
    q = { '<cmd>close<cr>', 'close' },
  }
  for lhs, m in pairs(maps) do
    vim.keymap.set('n', lhs, m[1], { buffer = buf, nowait = true, desc = 'Kodama: ' .. m[2] })
  end
end

--- Shows sessions in the `kodama://sessions` scratch buffer (reused; opened in a split).
function M.show_list(sessions, all_namespaces)
  local buf = list_buffer()
  if not buf then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, LIST_NAME)
    vim.bo[buf].bufhidden = 'hide'
    vim.bo[buf].swapfile = false
    vim.bo[buf].filetype = 'kodama'
    map_keys(buf)
  end
  render(buf, sessions, all_namespaces)
  if vim.fn.bufwinid(buf) == -1 then
    local height = math.min(math.max(#vim.api.nvim_buf_get_lines(buf, 0, -1, false) + 1, 4), 15)
    vim.cmd(('botright %dsplit'):format(height))
    vim.api.nvim_win_set_buf(0, buf)
    vim.wo.winfixheight = true
    vim.wo.wrap = false
    vim.wo.cursorline = true
  end
  return buf
end

--- Re-renders an open sessions buffer from the cache (after kodama/sessionsChanged).
function M.refresh_list_buffers()
  local buf = list_buffer()
  if buf and not vim.b[buf].kodama_all_namespaces and state.sessions then
    render(buf, state.sessions, false)
  end
end

--- Lines describing one session, as the server words them (`kubectl kodama get`); with a
--- sync status (from kodama.sync.status), its report replaces the session's sync lines.
function M.session_lines(s, sync)
  local lines = {}
  local skipping = false
  for _, line in ipairs(shown(s).detail) do
    if sync and line:match('^Sync:') then
      skipping = true
    elseif not (skipping and line:match('^%s')) then
      skipping = false
      lines[#lines + 1] = line
    end
  end
  if #lines == 0 then
    lines[1] = ('%s: %s'):format(str(s.name), shown(s).status)
  end
  local u = s.usage
  if type(u) == 'table' then
    local t = type(u.tokens) == 'table' and ('%s in / %s out'):format(str(u.tokens.input), str(u.tokens.output))
      or 'tokens -'
    local cost = type(u.cost) == 'table' and ('%.2f %s'):format(u.cost.total, str(u.cost.currency)) or 'cost -'
    lines[#lines + 1] = ('Usage:       %ds run, %.2f cpu-h, %s, %s'):format(u.seconds or 0, u.cpuHours or 0, t, cost)
  end
  if sync then
    vim.list_extend(lines, M.sync_lines(sync))
  end
  return lines
end

--- Lines for a SyncStatus result, as the server words them (`kubectl kodama sync status`).
function M.sync_lines(sync)
  if type(sync) ~= 'table' then
    return { 'Sync:        off' }
  end
  if type(sync.display) == 'table' and type(sync.display.detail) == 'table' then
    return sync.display.detail
  end
  return { 'Sync:        ' .. str(sync.state) }
end

--- Whether a session offers `action` (attach, stop, resume, delete, fetch, sync) now: the
--- server's display.actions. Sessions from a server without them offer everything.
function M.offers(s, action)
  if type(s.display) ~= 'table' or type(s.display.actions) ~= 'table' then
    return true
  end
  return vim.list_contains(s.display.actions, action)
end

return M
