-- The whole client flow against tests/editors/fake_kodama_lsp.py (no cluster needed).
-- Runs in a git repository (the cwd) holding `main.py` and `NOTES` (no filetype).
local T = dofile(vim.env.KODAMA_TEST_HARNESS)
local r = T.result

local function notified_wait(pattern, what)
  T.wait(10000, function()
    return T.notified(pattern)
  end, what or pattern)
  return T.notified(pattern).msg
end

-- Runs `cmd`, which opens the buffer `name`; returns its lines (the buffer stays current).
local function opened(cmd, name)
  vim.cmd(cmd)
  T.wait(5000, function()
    return vim.api.nvim_buf_get_name(0) == name
  end, 'the buffer ' .. name)
  return vim.api.nvim_buf_get_lines(0, 0, -1, false)
end

T.run(function()
  vim.g.kodama = { namespace = 'fake-ns', kubeconfig = '/tmp/fake-kubeconfig' }
  vim.lsp.config('kodama', { cmd = vim.json.decode(vim.env.KODAMA_TEST_LSP_CMD) })
  vim.lsp.enable('kodama')

  -- Attaches to a file buffer of the root, and to one without a filetype.
  vim.cmd('edit main.py')
  T.wait(10000, function()
    local c = T.kodama_client()
    return c and c.initialized and #vim.lsp.get_clients({ name = 'kodama', bufnr = 0 }) == 1
  end, 'the client to attach to main.py')
  r.root_dir = T.kodama_client().root_dir
  vim.cmd('edit NOTES')
  r.notes_filetype = vim.bo.filetype
  T.wait(5000, function()
    return #vim.lsp.get_clients({ name = 'kodama', bufnr = 0 }) == 1
  end, 'the client to attach to NOTES')
  r.clients = #vim.lsp.get_clients({ name = 'kodama' })
  T.wait(5000, function()
    return require('kodama').sessions() ~= nil
  end, 'the first kodama/sessionsChanged')

  -- start without a name: the suggestion is offered for editing, then an optional task.
  table.insert(T.answers.input, 'from-prompt')
  table.insert(T.answers.input, '')
  vim.cmd('Kodama start')
  r.started_prompt = notified_wait('session from%-prompt started')
  -- Enter on both: the suggested name, no task.
  table.insert(T.answers.input, '')
  table.insert(T.answers.input, '')
  vim.cmd('Kodama start')
  r.started_suggested = notified_wait('session suggested%-name started')
  vim.cmd('Kodama start alpha')
  r.started = notified_wait('session alpha started')
  r.waiting = notified_wait('session alpha is waiting for you')
  r.complete_names = vim.fn.getcompletion('Kodama attach ', 'cmdline')
  r.statusline = require('kodama').statusline()

  vim.cmd('Kodama attach alpha')
  T.wait(10000, function()
    return vim.bo.buftype == 'terminal'
  end, 'the attach terminal')
  local buf = vim.api.nvim_get_current_buf()
  local chan = vim.api.nvim_get_chan_info(vim.bo[buf].channel)
  r.terminal = { argv = chan.argv, title = vim.b[buf].kodama_title, windows = #vim.api.nvim_list_wins() }
  T.wait(10000, function()
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n'):find('attached to alpha')
  end, 'the attach command output')
  vim.cmd('close')

  r.list_lines = opened('Kodama list', 'kodama://sessions')
  vim.cmd('close')

  vim.cmd('Kodama status alpha')
  r.status = notified_wait('State:       watching')
  vim.cmd('Kodama fetch alpha')
  r.fetch = notified_wait('Fetched kodama/alpha')
  r.log_lines = opened('Kodama logs alpha', 'kodama://logs/alpha')
  r.log_modifiable = vim.bo.modifiable
  vim.cmd('close')
  vim.cmd('Kodama logs alpha -f')
  T.wait(10000, function()
    return vim.bo.buftype == 'terminal'
  end, 'the follow terminal')
  vim.cmd('close')
  vim.cmd('Kodama wait alpha idle')
  r.wait = notified_wait('alpha: the agent is')
  vim.cmd('Kodama sync pause alpha')
  r.sync_pause = notified_wait('^Kodama: alpha\n')
  vim.cmd('Kodama sync push alpha')
  r.sync_push = notified_wait('pushed')
  r.config_lines = opened('Kodama config', 'kodama://config')
  r.config_filetype = vim.bo.filetype
  vim.cmd('close')
  r.rbac_lines = opened('Kodama rbac user=alice serviceaccount=ci:runner', 'kodama://rbac')
  r.rbac_filetype = vim.bo.filetype
  r.rbac_modifiable = vim.bo.modifiable
  vim.cmd('close')
  r.complete_rbac = vim.fn.getcompletion('Kodama rbac ', 'cmdline')
  r.complete_wait = vim.fn.getcompletion('Kodama wait alpha ', 'cmdline')
  r.complete_sync = vim.fn.getcompletion('Kodama sync ', 'cmdline')

  vim.cmd('Kodama stop alpha')
  r.stop = notified_wait('session alpha stopped')
  table.insert(T.answers.select, 'Delete')
  vim.cmd('Kodama delete alpha')
  r.delete = notified_wait('session alpha deleted')

  vim.cmd('Kodama get nope')
  notified_wait('not found')
  vim.wait(500) -- past the client's de-duplication delay
  local errors = vim.tbl_filter(function(n)
    return n.msg:find('not found', 1, true) ~= nil
  end, T.notifications)
  r.error_count = #errors
  r.error_level = errors[1].level
  r.progress_echoes = vim.tbl_filter(function(e)
    return e:find('^Kodama: Starting alpha')
  end, T.echoes)
  r.columns = vim.o.columns
  r.wait_echoes = vim.tbl_filter(function(e)
    return e:find('waiting for alpha', 1, true) ~= nil
  end, T.echoes)
  r.stop_echoes = vim.tbl_filter(function(e)
    return e:find('stop alpha', 1, true) ~= nil
  end, T.echoes)
end)
