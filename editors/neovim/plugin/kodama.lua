-- :Kodama and the autocmds of the Kodama client. The LSP config itself is lsp/kodama.lua;
-- starting it in every buffer of a repository is `vim.lsp.enable('kodama')` (user's choice).
if vim.g.loaded_kodama then
  return
end
vim.g.loaded_kodama = true

if vim.fn.has('nvim-0.11') == 0 then
  vim.api.nvim_echo({ { 'kodama: Neovim 0.11 or newer is needed', 'WarningMsg' } }, true, {})
  return
end

vim.api.nvim_create_user_command('Kodama', function(opts)
  require('kodama.commands').run(opts.fargs, opts.bang)
end, {
  nargs = '*',
  bang = true,
  desc = 'Kodama sessions: start, list, attach, logs, wait, status, stop, resume, delete, fetch, get, sync, config',
  complete = function(arglead, cmdline, cursorpos)
    return require('kodama.commands').complete(arglead, cmdline, cursorpos)
  end,
})

local group = vim.api.nvim_create_augroup('kodama', { clear = true })

vim.api.nvim_create_autocmd('LspProgress', {
  group = group,
  desc = 'Kodama: echo work-done progress',
  callback = function(ev)
    require('kodama.progress').on_progress(ev)
  end,
})

-- vim.lsp.enable() starts clients on FileType, which never fires for a buffer without a
-- filetype (a README without extension, a new file). Cover those too when kodama is enabled.
vim.api.nvim_create_autocmd({ 'BufReadPost', 'BufNewFile' }, {
  group = group,
  desc = 'Kodama: attach to buffers that have no filetype',
  callback = function(ev)
    vim.schedule(function()
      if
        not vim.api.nvim_buf_is_valid(ev.buf)
        or vim.bo[ev.buf].filetype ~= ''
        or vim.bo[ev.buf].buftype ~= ''
        or not (vim.lsp.is_enabled and vim.lsp.is_enabled('kodama'))
        or #vim.lsp.get_clients({ name = 'kodama', bufnr = ev.buf }) > 0
      then
        return
      end
      local config = vim.deepcopy(vim.lsp.config.kodama or {})
      if not config.cmd then
        return
      end
      config.name = 'kodama'
      local function start(root)
        config.root_dir = root
        if root or not config.workspace_required then
          vim.lsp.start(config, { bufnr = ev.buf })
        end
      end
      if type(config.root_dir) == 'function' then
        config.root_dir(ev.buf, function(root)
          vim.schedule(function()
            start(root)
          end)
        end)
      else
        start(config.root_dir or vim.fs.root(ev.buf, config.root_markers or { '.git' }))
      end
    end)
  end,
})
