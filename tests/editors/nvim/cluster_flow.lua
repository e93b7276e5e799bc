-- Against the real kodama-lsp and the test control plane: start, list, attach one session.
-- Env: KODAMA_TEST_SESSION (name), KODAMA_TEST_SETTINGS (JSON for vim.g.kodama).
local T = dofile(vim.env.KODAMA_TEST_HARNESS)
local r = T.result
local name = assert(vim.env.KODAMA_TEST_SESSION)

local function timed(key, fn)
  local t0 = vim.uv.hrtime()
  fn()
  r.seconds = r.seconds or {}
  r.seconds[key] = (vim.uv.hrtime() - t0) / 1e9
end

T.run(function()
  vim.g.kodama = vim.json.decode(vim.env.KODAMA_TEST_SETTINGS or '{}')
  vim.lsp.enable('kodama')
  timed('initialize', function()
    vim.cmd('edit main.py')
    T.wait(30000, function()
      local c = T.kodama_client()
      return c and c.initialized
    end, 'kodama-lsp to initialize')
  end)
  r.server_commands = T.kodama_client().server_capabilities.executeCommandProvider.commands

  timed('start', function()
    vim.cmd('Kodama start ' .. name)
    r.started = T.wait_notified(180000, 'session ' .. vim.pesc(name) .. ' started')
  end)

  timed('list', function()
    vim.cmd('Kodama list')
    T.wait(30000, function()
      return vim.api.nvim_buf_get_name(0) == 'kodama://sessions'
    end, 'the sessions buffer')
    r.list_lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
    vim.cmd('close')
  end)

  timed('attach', function()
    vim.cmd('Kodama attach ' .. name)
    T.wait(30000, function()
      return vim.bo.buftype == 'terminal'
    end, 'the attach terminal')
  end)
  local buf = vim.api.nvim_get_current_buf()
  local job = vim.b[buf].terminal_job_id
  r.terminal = {
    buftype = vim.bo[buf].buftype,
    argv = vim.api.nvim_get_chan_info(vim.bo[buf].channel).argv,
    bufname = vim.api.nvim_buf_get_name(buf),
    title = vim.b[buf].kodama_title,
  }
  vim.wait(1500)
  r.terminal.running = vim.fn.jobwait({ job }, 0)[1] == -1
  r.terminal.lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  vim.fn.jobstop(job)
end)
