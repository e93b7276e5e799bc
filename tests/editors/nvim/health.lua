-- :checkhealth kodama, with its report captured from the health buffer.
local T = dofile(vim.env.KODAMA_TEST_HARNESS)

T.run(function()
  vim.cmd('checkhealth kodama')
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  T.result.filetype = vim.bo.filetype
  T.result.lines = lines
  T.result.text = table.concat(lines, '\n')
end)
