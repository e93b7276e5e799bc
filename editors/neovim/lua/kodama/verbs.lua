-- `:Kodama logs`, `:Kodama wait`, `:Kodama config`, `:Kodama rbac`: the CLI verbs that show text
-- or wait.
-- Text goes to a read-only scratch buffer (searchable, no hit-enter prompt); following a log
-- is a terminal the server opens (kodama/openTerminal), as attach does.
local M = {}

local INFO, WARN = vim.log.levels.INFO, vim.log.levels.WARN
local WAIT_STATES = { 'waiting', 'idle', 'exited', 'working' }

--- Shows lines in the read-only buffer `name` (reused), in a split unless already visible.
---@return integer bufnr
function M.show_text(name, lines, filetype)
  local buf = vim.fn.bufnr(name)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, name)
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  vim.bo[buf].bufhidden = 'hide'
  vim.bo[buf].filetype = filetype or ''
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    vim.cmd('botright split')
    vim.api.nvim_win_set_buf(0, buf)
  else
    vim.api.nvim_set_current_win(win)
  end
  return buf
end

---@param subcommands table
---@param h {exec: function, with_name: function, notify: function}
function M.add(subcommands, h)
  subcommands.logs = {
    complete = function(pos, names)
      return pos == 1 and names() or { '-f', '--follow' }
    end,
    -- `:Kodama logs NAME`: the rendered log in kodama://logs/NAME; `-f` or `!` follows it.
    run = function(words, bang)
      local follow = bang or false
      local name
      for _, w in ipairs(words) do
        if w == '-f' or w == '--follow' then
          follow = true
        elseif not name then
          name = w
        else
          return h.notify('usage: :Kodama[!] logs [NAME] [-f]', vim.log.levels.ERROR)
        end
      end
      h.with_name(name, 'read the log of', function(n)
        h.exec('kodama.session.logs', { name = n, follow = follow or nil }, function(r)
          if type(r) ~= 'table' then
            return
          end
          if follow then
            if not r.opened and type(r.argv) == 'table' then
              h.notify('follow the log with: ' .. table.concat(r.argv, ' '), WARN)
            end
            return
          end
          local text = type(r.text) == 'string' and r.text or ''
          local lines = text ~= '' and vim.split(text, '\n', { trimempty = false }) or {}
          if lines[#lines] == '' then
            table.remove(lines)
          end
          if #lines == 0 then
            lines = { ('(the agent of %s has not logged anything yet)'):format(n) }
          end
          M.show_text('kodama://logs/' .. n, lines, 'kodamalog')
        end, 'logs ' .. n)
      end)
    end,
  }

  subcommands.wait = {
    complete = function(pos, names)
      if pos == 1 then
        return names()
      end
      return pos == 2 and WAIT_STATES or { 'timeout=' }
    end,
    -- `:Kodama wait NAME STATE [timeout=30m]`: progress while waiting; `:Kodama cancel` stops.
    run = function(words)
      local name, want, timeout = words[1], words[2], nil
      for i = 3, #words do
        timeout = words[i]:match('^timeout=(.+)$') or timeout
      end
      local function wait(n, s)
        h.exec('kodama.session.wait', { name = n, ['for'] = s, timeout = timeout }, function(r)
          local msg = type(r) == 'table' and r.message
          msg = (msg and msg ~= vim.NIL and msg ~= '') and (' — ' .. msg) or ''
          local reached = type(r) == 'table' and tostring(r.state) or s
          h.notify(('%s: the agent is %s%s'):format(n, reached, msg), INFO)
        end, ('wait for %s to be %s'):format(n, s))
      end
      h.with_name(name, 'wait for', function(n)
        if want and want ~= '' then
          return wait(n, want)
        end
        vim.ui.select(WAIT_STATES, { prompt = ('Wait until the agent of %s is: '):format(n) }, function(s)
          if s then
            wait(n, s)
          end
        end)
      end)
    end,
  }

  subcommands.config = {
    -- The merged configuration (the CLI's `config view`) as YAML, read-only.
    run = function()
      h.exec('kodama.config.view', { root = require('kodama.client').root() }, function(r)
        if type(r) ~= 'table' then
          return
        end
        local sources = type(r.sources) == 'table' and table.concat(r.sources, ', ') or ''
        local lines = { '# sources: ' .. (sources ~= '' and sources or '(defaults only)') }
        vim.list_extend(lines, vim.split(tostring(r.text or ''), '\n', { trimempty = true }))
        M.show_text('kodama://config', lines, 'yaml')
      end, 'config view')
    end,
  }

  -- `:Kodama rbac [user=NAME] [serviceaccount=[NS:]NAME] [namespace=NS]`: the Role (and
  -- RoleBindings) `kubectl kodama rbac` prints, as YAML in a read-only buffer (`:w !kubectl apply -f -`).
  local RBAC_OPTIONS = { user = 'user', serviceaccount = 'serviceAccount', namespace = 'namespace' }
  subcommands.rbac = {
    complete = function()
      return { 'user=', 'serviceaccount=', 'namespace=' }
    end,
    run = function(words)
      local args = {}
      for _, w in ipairs(words) do
        local key, value = w:gsub('^%-%-', ''):match('^([%a]+)=(.+)$')
        if not (key and RBAC_OPTIONS[key]) then
          return h.notify('usage: :Kodama rbac [user=NAME] [serviceaccount=[NS:]NAME] [namespace=NS]', vim.log.levels.ERROR)
        end
        args[RBAC_OPTIONS[key]] = value
      end
      h.exec('kodama.rbac.show', args, function(r)
        if type(r) ~= 'table' then
          return
        end
        local lines = { ('# Kodama RBAC for namespace %s: kubectl apply -f -'):format(tostring(r.namespace)) }
        vim.list_extend(lines, vim.split(tostring(r.text or ''), '\n', { trimempty = true }))
        M.show_text('kodama://rbac', lines, 'yaml')
      end, 'rbac')
    end,
  }
end

return M
