-- Starts the real kodama-lsp (no cluster needed) and reports what it advertises.
local T = dofile(vim.env.KODAMA_TEST_HARNESS)

T.run(function()
  vim.lsp.enable('kodama')
  vim.cmd('edit main.py')
  T.wait(30000, function()
    local c = T.kodama_client()
    return c and c.initialized
  end, 'kodama-lsp to initialize')
  local c = T.kodama_client()
  T.result.commands = c.server_capabilities.executeCommandProvider.commands
  T.result.server_info = c.server_info
  vim.cmd('checkhealth kodama')
  T.result.health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
end)
