-- Finding (or starting) the kodama-lsp client and running server commands on it.
local state = require('kodama.state')

local M = {}

M.NAME = 'kodama'
local DEFAULT_MARKERS = { '.kodama.yaml', '.git' }

local function config()
  local ok, cfg = pcall(function()
    return vim.lsp.config[M.NAME]
  end)
  return ok and cfg or nil
end

local function markers()
  local cfg = config()
  return cfg and cfg.root_markers or DEFAULT_MARKERS
end

local function file_buffer(buf)
  return vim.bo[buf].buftype == '' and vim.api.nvim_buf_get_name(buf) ~= ''
end

--- The root the user is working in: the current file's, else the working directory's.
---@return string
function M.root()
  local buf = vim.api.nvim_get_current_buf()
  local root = file_buffer(buf) and vim.fs.root(buf, markers()) or nil
  return root or vim.fs.root(vim.fn.getcwd(), markers()) or vim.fn.getcwd()
end

--- A running kodama client: the current buffer's, else the one of the current root, else any.
---@return vim.lsp.Client|nil
function M.find()
  local buf = vim.api.nvim_get_current_buf()
  local attached = vim.lsp.get_clients({ name = M.NAME, bufnr = buf })[1]
  if attached then
    return attached
  end
  local root, any = M.root(), nil
  for _, c in ipairs(vim.lsp.get_clients({ name = M.NAME })) do
    if c.root_dir == root then
      return c
    end
    any = any or c
  end
  return any
end

--- Starts a client for the current root when none runs (`:Kodama` works without
--- vim.lsp.enable() and in buffers that are not files).
---@return vim.lsp.Client|nil, string|nil
local function start()
  local cfg = config()
  if not cfg or not cfg.cmd then
    return nil, 'no LSP config named "kodama" (is editors/neovim on the runtimepath?)'
  end
  cfg = vim.deepcopy(cfg)
  cfg.name = M.NAME
  cfg.root_dir = M.root()
  local buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start(cfg, { bufnr = buf, attach = file_buffer(buf), silent = true })
  local client = id and vim.lsp.get_client_by_id(id)
  if not client then
    return nil, ('could not start %s (see :checkhealth kodama)'):format(tostring(cfg.cmd[1]))
  end
  return client
end

--- Calls `fn(client)` once a kodama client is initialized.
---@param fn fun(client: vim.lsp.Client)
function M.with_client(fn)
  local client, err = M.find()
  if not client then
    client, err = start()
  end
  if not client then
    require('kodama.handlers').notify(err, vim.log.levels.ERROR)
    return
  end
  local deadline = vim.uv.now() + 30000
  local function poll()
    if client:is_stopped() then
      require('kodama.handlers').notify('kodama-lsp exited (see :LspLog)', vim.log.levels.ERROR)
    elseif client.initialized then
      fn(client)
    elseif vim.uv.now() > deadline then
      require('kodama.handlers').notify('kodama-lsp did not initialize in 30s', vim.log.levels.ERROR)
    else
      vim.defer_fn(poll, 50)
    end
  end
  poll()
end

--- Reports a failed command once: the server usually sent the same line as showMessage.
local function report_error(err)
  local msg = type(err) == 'table' and err.message or tostring(err)
  vim.defer_fn(function()
    local shown = state.shown_errors[msg]
    if shown and vim.uv.now() - shown < 10000 then
      return
    end
    require('kodama.handlers').notify(msg, vim.log.levels.ERROR)
  end, 200)
end

--- Runs server command `command` (e.g. 'kodama.session.start') with one argument object.
---@param command string
---@param args table|nil
---@param on_result fun(result: any, client: vim.lsp.Client)|nil
---@param opts {title?: string, on_error?: fun(err: table)}|nil
function M.exec(command, args, on_result, opts)
  opts = opts or {}
  if args == nil or next(args) == nil then
    args = vim.empty_dict()
  end
  M.with_client(function(client)
    client:exec_cmd(
      { title = opts.title or command, command = command, arguments = { args } },
      {},
      function(err, result)
        if err then
          report_error(err)
          if opts.on_error then
            opts.on_error(err)
          end
        elseif on_result then
          on_result(result, client)
        end
      end
    )
  end)
end

--- Synchronous session list for command-line completion (short timeout; nil on failure).
---@return table[]|nil
function M.list_sync(timeout_ms)
  local client = M.find()
  if not (client and client.initialized) then
    return nil
  end
  local resp = client:request_sync(
    'workspace/executeCommand',
    { command = 'kodama.session.list', arguments = { vim.empty_dict() } },
    timeout_ms or 1500
  )
  if resp and not resp.err and type(resp.result) == 'table' then
    state.set_sessions(resp.result)
    return resp.result
  end
end

return M
