-- Loads the plugin and inspects it without any server: config, command, completion.
local T = dofile(vim.env.KODAMA_TEST_HARNESS)

T.run(function()
  local r = T.result
  r.loaded = vim.g.loaded_kodama == true
  r.has_command = vim.fn.exists(':Kodama') == 2
  local config = vim.lsp.config.kodama
  r.config = {
    cmd = config.cmd,
    root_markers = config.root_markers,
    filetypes = config.filetypes or vim.NIL,
    capabilities = config.capabilities,
    handlers = vim.tbl_keys(config.handlers or {}),
  }
  table.sort(r.config.handlers)
  r.complete_subcommands = vim.fn.getcompletion('Kodama ', 'cmdline')
  r.complete_st = vim.fn.getcompletion('Kodama st', 'cmdline')
  r.complete_sync = vim.fn.getcompletion('Kodama sync ', 'cmdline')
  r.complete_start_opts = vim.fn.getcompletion('Kodama start foo im', 'cmdline')
  r.complete_list = vim.fn.getcompletion('Kodama list ', 'cmdline')
  -- Session names come from the cache the server's kodama/sessionsChanged fills.
  require('kodama.handlers').handlers['kodama/sessionsChanged'](nil, {
    sessions = { { name = 'alpha', status = 'Running' }, { name = 'beta', status = 'Stopped' } },
  })
  r.complete_names = vim.fn.getcompletion('Kodama attach ', 'cmdline')
  r.complete_names_b = vim.fn.getcompletion('Kodama stop b', 'cmdline')
  r.statusline = require('kodama').statusline()

  -- init_options come from vim.g.kodama at start time.
  vim.g.kodama = { kubeconfig = '/tmp/kc', context = 'ctx', namespace = 'ns', refresh_interval = 2 }
  local params = {}
  config.before_init(params, config)
  r.init_options = params.initializationOptions

  -- agentState `waiting` tells the user how to attach.
  require('kodama.handlers').handlers['kodama/agentState'](nil, {
    name = 'alpha', namespace = 'ns', state = 'waiting', message = 'Allow Bash?', since = 'x',
  })
  r.waiting = T.notified('session alpha is waiting for you') and T.notified('session alpha is waiting for you').msg
end)
