-- Test harness for headless Neovim runs driven by tests/editors/test_neovim.py.
-- A script does:   local T = dofile(vim.env.KODAMA_TEST_HARNESS)
--                  T.run(function() ... T.result.x = ...; T.wait(5000, cond, 'what') end)
-- Results go to $KODAMA_TEST_RESULT as JSON; Neovim exits 0 after success and with
-- `cquit 3` on any Lua error (4 when the deadline passes), so nothing is left running.
local T = {
  result = {},
  notifications = {},
  echoes = {},
  answers = { input = {}, select = {} },
  prompts = {},
}

local function write_result(ok, err)
  local out = vim.deepcopy(T.result)
  out.ok = ok
  out.error = err
  out.notifications = T.notifications
  out.echoes = T.echoes
  out.prompts = T.prompts
  local path = assert(vim.env.KODAMA_TEST_RESULT, 'KODAMA_TEST_RESULT is not set')
  local f = assert(io.open(path, 'w'))
  f:write(vim.json.encode(out))
  f:close()
end

local function finish(ok, err, code)
  local wrote, werr = pcall(write_result, ok, err)
  if not wrote then
    io.stderr:write('harness: could not write the result: ' .. tostring(werr) .. '\n')
  end
  if not ok then
    io.stderr:write('harness: ' .. tostring(err) .. '\n')
  end
  vim.cmd(ok and 'qa!' or ('cquit ' .. (code or 3)))
end

-- Everything the plugin tells the user, kept for the assertions (and echoed on stderr).
vim.notify = function(msg, level)
  table.insert(T.notifications, { msg = tostring(msg), level = level or vim.log.levels.INFO })
  io.stderr:write(('notify[%s]: %s\n'):format(tostring(level), tostring(msg)))
end
local echo = vim.api.nvim_echo
vim.api.nvim_echo = function(chunks, history, opts)
  local text = {}
  for _, c in ipairs(chunks) do
    text[#text + 1] = c[1]
  end
  table.insert(T.echoes, table.concat(text))
  return echo(chunks, history, opts)
end
-- Prompts answer from queues the script fills; an unexpected prompt is a failure, not a hang.
vim.ui.input = function(opts, on_confirm)
  table.insert(T.prompts, { kind = 'input', prompt = opts.prompt, default = opts.default })
  local answer = table.remove(T.answers.input, 1)
  vim.schedule(function()
    on_confirm(answer)
  end)
end
vim.ui.select = function(items, opts, on_choice)
  table.insert(T.prompts, { kind = 'select', prompt = opts.prompt })
  local answer = table.remove(T.answers.select, 1)
  local choice = nil
  for i, item in ipairs(items) do
    local label = opts.format_item and opts.format_item(item) or item
    if label == answer then
      choice = item
      vim.schedule(function()
        on_choice(choice, i)
      end)
      return
    end
  end
  vim.schedule(function()
    on_choice(nil, nil)
  end)
end

--- Waits until cond() is true (processing events meanwhile); errors after timeout_ms.
function T.wait(timeout_ms, cond, what)
  vim.v.errmsg = ''
  local cond_error = nil
  local ok = vim.wait(timeout_ms, function()
    -- A Lua error in a callback (a handler, a scheduled function) does not reach the script:
    -- it only lands in v:errmsg. Stop waiting and fail with it.
    if vim.v.errmsg:find('Error executing', 1, true) then
      return true
    end
    local good, value = pcall(cond)
    if not good then
      cond_error = value
      return true
    end
    return value
  end, 50)
  if cond_error then
    error(cond_error, 2)
  end
  if vim.v.errmsg:find('Error executing', 1, true) then
    error('error in a callback while waiting for ' .. (what or 'a condition') .. ': ' .. vim.v.errmsg, 2)
  end
  if not ok then
    error(('timed out after %d ms waiting for %s'):format(timeout_ms, what or 'a condition'), 2)
  end
end

function T.notified(pattern)
  for _, n in ipairs(T.notifications) do
    if n.msg:find(pattern) then
      return n
    end
  end
end

--- Waits for a notification matching pattern; an ERROR notification meanwhile fails at once.
function T.wait_notified(timeout_ms, pattern)
  local errors_before = 0
  for _, n in ipairs(T.notifications) do
    if n.level == vim.log.levels.ERROR then
      errors_before = errors_before + 1
    end
  end
  T.wait(timeout_ms, function()
    local errors = 0
    for _, n in ipairs(T.notifications) do
      if n.level == vim.log.levels.ERROR then
        errors = errors + 1
        if errors > errors_before then
          error('the plugin reported an error: ' .. n.msg)
        end
      end
    end
    return T.notified(pattern) ~= nil
  end, 'a notification matching ' .. pattern)
  return T.notified(pattern).msg
end

function T.kodama_client()
  return vim.lsp.get_clients({ name = 'kodama' })[1]
end

--- Runs body once startup is over; any error ends Neovim with a failure code.
function T.run(body)
  local deadline_ms = tonumber(vim.env.KODAMA_TEST_DEADLINE_MS or '') or 60000
  vim.defer_fn(function()
    finish(false, ('deadline of %d ms passed'):format(deadline_ms), 4)
  end, deadline_ms)
  vim.schedule(function()
    local ok, err = xpcall(body, debug.traceback)
    finish(ok, not ok and err or nil)
  end)
end

return T
