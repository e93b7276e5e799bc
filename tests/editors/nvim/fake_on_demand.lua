-- Without vim.lsp.enable(): `:Kodama list` from an empty buffer starts the server on demand
-- for the working directory, and `:Kodama attach` with no name asks which session.
local T = dofile(vim.env.KODAMA_TEST_HARNESS)
local r = T.result

T.run(function()
  vim.lsp.config('kodama', { cmd = vim.json.decode(vim.env.KODAMA_TEST_LSP_CMD) })
  r.clients_before = #vim.lsp.get_clients({ name = 'kodama' })
  vim.cmd('Kodama start beta')
  T.wait(10000, function()
    return T.notified('session beta started')
  end, 'beta to start')
  local client = T.kodama_client()
  r.root_dir = client.root_dir
  r.attached_buffers = vim.tbl_count(client.attached_buffers)

  table.insert(T.answers.select, 'beta')
  vim.cmd('Kodama attach')
  T.wait(10000, function()
    return vim.bo.buftype == 'terminal'
  end, 'the attach terminal')
  r.terminal_title = vim.b.kodama_title
  r.clients_after = #vim.lsp.get_clients({ name = 'kodama' })
end)
