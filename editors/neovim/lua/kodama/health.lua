-- :checkhealth kodama
local M = {}

local health = vim.health

local function run(argv, timeout_ms)
  local ok, obj = pcall(function()
    return vim.system(argv, { text = true }):wait(timeout_ms or 5000)
  end)
  if not ok then
    return nil, tostring(obj)
  end
  if obj.code ~= 0 then
    local err = vim.trim(obj.stderr or '')
    return nil, err ~= '' and err or ('exit code ' .. tostring(obj.code))
  end
  return vim.trim(obj.stdout or '')
end

local function first_line(text)
  return (text or ''):match('[^\n]*')
end

local function check_server()
  local ok, config = pcall(function()
    return vim.lsp.config.kodama
  end)
  if not ok or not config then
    health.error('no LSP config "kodama" found', { 'add editors/neovim to the runtimepath' })
    return
  end
  local cmd = type(config.cmd) == 'table' and config.cmd or nil
  if not cmd then
    health.info('cmd is a function: not checked')
    return
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    health.error(('%s not found on PATH'):format(cmd[1]), {
      'pip install kodama (it provides kodama-lsp), or',
      "vim.lsp.config('kodama', { cmd = { '/path/to/kodama-lsp' } })",
    })
    return
  end
  local version = run({ exe, '--version' })
  health.ok(('%s: %s'):format(exe, version and first_line(version) or 'found (no --version output)'))
  if vim.lsp.is_enabled and vim.lsp.is_enabled('kodama') then
    health.ok("vim.lsp.enable('kodama') is on")
  else
    health.info("vim.lsp.enable('kodama') is off: the server starts on the first :Kodama command")
  end
  for _, c in ipairs(vim.lsp.get_clients({ name = 'kodama' })) do
    health.info(('client %d running for %s'):format(c.id, tostring(c.root_dir)))
  end
end

local function kubectl_args()
  local s = require('kodama.settings').get()
  local args = {}
  if s.kubeconfig and s.kubeconfig ~= '' then
    vim.list_extend(args, { '--kubeconfig', vim.fs.normalize(s.kubeconfig) })
  end
  return args, s
end

local function check_kube()
  local kubectl = vim.fn.exepath('kubectl')
  if kubectl == '' then
    health.error('kubectl not found on PATH', { 'https://kubernetes.io/docs/tasks/tools/' })
    return
  end
  local version = run({ kubectl, 'version', '--client' })
  health.ok(('kubectl: %s (%s)'):format(kubectl, version and first_line(version) or 'version unknown'))

  local args, s = kubectl_args()
  if s.context and s.context ~= '' then
    health.ok(('kube context (from vim.g.kodama): %s'):format(s.context))
  else
    local cmd = { kubectl, 'config', 'current-context' }
    vim.list_extend(cmd, args)
    local ctx, err = run(cmd)
    if ctx and ctx ~= '' then
      health.ok('current kube context: ' .. ctx)
    else
      health.warn('no current kube context: ' .. tostring(err), {
        'kubectl config use-context NAME, or set vim.g.kodama = { context = ... }',
      })
    end
  end
  if s.kubeconfig then
    health.info('kubeconfig: ' .. vim.fs.normalize(s.kubeconfig))
  end
  if s.namespace then
    health.info('namespace: ' .. s.namespace)
  end
end

local function check_mutagen()
  -- The engine's rule (kodama/sync/mutagen.py): $KODAMA_MUTAGEN wins over PATH.
  local env = vim.env.KODAMA_MUTAGEN
  if env and env ~= '' then
    if vim.fn.executable(env) ~= 1 then
      health.warn(('KODAMA_MUTAGEN=%s is not an executable: file sync is off'):format(env), {
        'point KODAMA_MUTAGEN at the mutagen binary (mutagen-agents.tar.gz beside it), or unset it',
      })
      return
    end
    local version = run({ env, 'version' })
    health.ok(('mutagen (KODAMA_MUTAGEN): %s (%s)'):format(env, version and first_line(version) or 'version unknown'))
    return
  end
  local mutagen = vim.fn.exepath('mutagen')
  if mutagen == '' then
    health.warn('mutagen not found on PATH: two-way file sync is off (sessions still work)', {
      'install mutagen (https://mutagen.io) to sync files between the editor and the pod,',
      'or set KODAMA_MUTAGEN to its path',
    })
    return
  end
  local version = run({ mutagen, 'version' })
  health.ok(('mutagen: %s (%s)'):format(mutagen, version and first_line(version) or 'version unknown'))
end

function M.check()
  health.start('kodama: Neovim')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim ' .. tostring(vim.version()))
  else
    health.error('Neovim 0.11 or newer is needed (vim.lsp.config, client:exec_cmd)')
  end
  health.start('kodama: language server')
  check_server()
  health.start('kodama: Kubernetes')
  check_kube()
  health.start('kodama: file sync')
  check_mutagen()
end

return M
