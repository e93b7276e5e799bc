-- Config for Neovim 0.11's `vim.lsp.config()` / `vim.lsp.enable('kodama')`.
-- Neovim finds this file on the runtimepath; override any field with
-- `vim.lsp.config('kodama', {...})`.
return {
  cmd = { 'kodama-lsp' },
  root_markers = { '.kodama.yaml', '.git' },
  -- No `filetypes`: vim.lsp.enable() then starts the client for every FileType event.
  -- plugin/kodama.lua also covers buffers whose filetype stays empty.
  -- Only inside a root: a buffer outside any repository starts no server
  -- (`:Kodama` still starts one for the current directory when asked).
  workspace_required = true,
  capabilities = {
    experimental = { kodama = { openTerminal = true } },
  },
  -- Read `vim.g.kodama` at each start rather than when this file is loaded, so settings made
  -- after startup apply on restart. Explicit `init_options` from vim.lsp.config() win.
  before_init = function(params, config)
    params.initializationOptions = vim.tbl_deep_extend(
      'force',
      require('kodama.settings').init_options(),
      config.init_options or {}
    )
  end,
  handlers = require('kodama.handlers').handlers,
}
