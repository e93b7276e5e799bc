-- User settings, read from `vim.g.kodama` every time they are needed so that a change made
-- after startup takes effect on the next (re)start of the server or the next command.
local M = {}

---@class kodama.Settings
---@field kubeconfig? string   passed to the server as initializationOptions.kubeconfig
---@field context? string      kube context
---@field namespace? string    namespace
---@field refresh_interval? number seconds between the server's background refreshes
---@field terminal? {split?: string, insert?: boolean}  how `attach` opens its terminal
---@field progress? boolean    echo work-done progress (default true; set false with fidget.nvim)

local defaults = {
  terminal = { split = 'botright split', insert = true },
  progress = true,
}

---@return kodama.Settings
function M.get()
  local user = vim.g.kodama
  if type(user) ~= 'table' then
    user = {}
  end
  return vim.tbl_deep_extend('force', defaults, user)
end

--- The server's initializationOptions (docs/lsp-protocol.md), camelCase, unset keys omitted.
---@return table
function M.init_options()
  local s = M.get()
  local opts = {}
  if s.kubeconfig and s.kubeconfig ~= '' then
    opts.kubeconfig = vim.fs.normalize(s.kubeconfig)
  end
  if s.context and s.context ~= '' then
    opts.context = s.context
  end
  if s.namespace and s.namespace ~= '' then
    opts.namespace = s.namespace
  end
  if type(s.refresh_interval) == 'number' then
    opts.refreshInterval = s.refresh_interval
  end
  return opts
end

return M
