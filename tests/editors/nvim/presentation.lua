-- The Neovim client against tests/fixtures/presentation.json, the golden file kodama/present.py
-- is tested against: it shows the server's `display` as given, and the age it ticks itself
-- gives the engine's answers. Each mismatch is reported in r.failures.
local T = dofile(vim.env.KODAMA_TEST_HARNESS)
local r = T.result

T.run(function()
  local f = assert(io.open(vim.env.KODAMA_GOLDEN, 'r'))
  local golden = vim.json.decode(f:read('*a'))
  f:close()
  local ui = require('kodama.ui')
  local now = ui.epoch(golden.now)
  r.failures = {}
  r.checks = 0
  local function check(ok, what)
    r.checks = r.checks + 1
    if not ok then
      table.insert(r.failures, what)
    end
  end

  for _, c in ipairs(golden.age) do
    local got = ui.age(c.createdAt ~= vim.NIL and c.createdAt or nil, now)
    check(got == c.age, ('age(%s) = %s, want %s'):format(tostring(c.createdAt), got, c.age))
  end
  for _, bad in ipairs(golden.ageUnparsable) do
    check(ui.age(bad, now) == '-', ('age(%q) is not "-"'):format(bad))
  end

  for _, c in ipairs(golden.sessions) do
    local s = vim.deepcopy(c.session)
    s.display = c.display
    local d = c.display
    -- The sessions buffer: the server's status, agent and sync cells; the age ticks from createdAt.
    local lines = ui.session_table({ s }, false, now)
    local cells = vim.split(lines[2], '   +', { trimempty = true })
    local want = { s.name, d.status, d.agent, s.branch ~= vim.NIL and s.branch or '-', d.sync, d.age }
    check(vim.deep_equal(cells, want), ('%s: row %s, want %s'):format(c.case, vim.inspect(cells), vim.inspect(want)))
    check(vim.deep_equal(ui.session_lines(s), d.detail), c.case .. ': details are not display.detail')
    -- Pickers offer a session for exactly the verbs in display.actions.
    for _, action in ipairs({ 'attach', 'logs', 'fetch', 'sync', 'stop', 'resume', 'delete' }) do
      local want_offered = vim.list_contains(d.actions, action)
      check(ui.offers(s, action) == want_offered, ('%s: offers(%s) is not %s'):format(c.case, action, tostring(want_offered)))
    end
  end
end)
