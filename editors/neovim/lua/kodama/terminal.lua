-- Opens the attach terminal: the server decides the command line (kubectl exec ... with the
-- session's kubeconfig/context/namespace); the editor only decides where it shows.
local M = {}

---@param params {title?: string, argv: string[], cwd?: string}
---@return integer bufnr
function M.open(params)
  local argv = params.argv
  if type(argv) ~= 'table' or #argv == 0 then
    error('kodama/openTerminal: empty argv')
  end
  local cwd = params.cwd
  if type(cwd) ~= 'string' or cwd == '' or vim.fn.isdirectory(cwd) == 0 then
    cwd = vim.fn.getcwd()
  end
  local opts = require('kodama.settings').get().terminal or {}
  local split = opts.split or 'botright split'
  if split == 'tab' then
    vim.cmd('tabnew')
  else
    vim.cmd(split)
    vim.cmd('enew')
  end
  local buf = vim.api.nvim_get_current_buf()
  -- `term = true` runs the job in the current (empty) buffer; 0.11's replacement for termopen().
  local job = vim.fn.jobstart(argv, { term = true, cwd = cwd })
  if job <= 0 then
    vim.api.nvim_buf_delete(buf, { force = true })
    error(('could not start %s (jobstart returned %d)'):format(argv[1], job))
  end
  vim.b[buf].kodama_title = params.title
  vim.b[buf].kodama_argv = argv
  vim.bo[buf].bufhidden = 'hide'
  if opts.insert ~= false and #vim.api.nvim_list_uis() > 0 then
    vim.cmd('startinsert')
  end
  return buf
end

return M
