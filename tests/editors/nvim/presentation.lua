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

  -- The name check `:Kodama start` makes before any server call: the fixture's rule and words.
  check(ui.MAX_SESSION_NAME == golden.sessionName.maxLength, 'MAX_SESSION_NAME is not the fixture\'s')
  for _, c in ipairs(golden.sessionName.cases) do
    local want = c.problem ~= vim.NIL and c.problem or nil
    local got = ui.name_problem(c.name)
    check(got == want, ('name_problem(%q) = %s, want %s'):format(c.name, tostring(got), tostring(want)))
  end
  -- `:Kodama start BAD` refuses with those words and calls no server command.
  local client = require('kodama.client')
  local calls = {}
  client.exec = function(command)
    calls[#calls + 1] = command
  end
  local refused = golden.sessionName.cases[6] -- "Fix-login"
  require('kodama.commands').run({ 'start', refused.name })
  local last = T.notifications[#T.notifications] or {}
  check(
    #calls == 0 and last.msg == ('Kodama: session name %q: %s'):format(refused.name, refused.problem),
    ('start %s: calls %s, said %s'):format(refused.name, vim.inspect(calls), vim.inspect(last))
  )
  require('kodama.commands').run({ 'start', 'fix-login' })
  check(calls[1] == 'kodama.session.start', 'start fix-login did not call kodama.session.start')

  -- Summaries of the sessions held: the statusline's words.
  local state = require('kodama.state')
  for _, c in ipairs(golden.summaries) do
    local sessions = {}
    for i, x in ipairs(c.sessions) do
      sessions[i] = { name = 's' .. i, status = x.status, agent = { state = x.agent } }
    end
    check(ui.sessions_summary(sessions) == c.summary, ('summary %s'):format(vim.inspect(c.sessions)))
    state.set_sessions(sessions)
    local want = c.summary == '' and '' or ('kodama: ' .. c.summary)
    check(require('kodama').statusline() == want, ('statusline for %s'):format(vim.inspect(c.sessions)))
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
    -- The agent cell ticks from display.agentLabel and display.agentSince like the age does.
    local later = ui.session_table({ s }, false, ui.epoch(golden.later))
    local agent_later = vim.split(later[2], '   +', { trimempty = true })[3]
    check(agent_later == c.agentLater, ('%s: agent cell later %s, want %s'):format(c.case, agent_later, c.agentLater))
    -- Pickers offer a session for exactly the verbs in display.actions.
    for _, action in ipairs({ 'attach', 'logs', 'fetch', 'sync', 'stop', 'resume', 'delete' }) do
      local want_offered = vim.list_contains(d.actions, action)
      check(ui.offers(s, action) == want_offered, ('%s: offers(%s) is not %s'):format(c.case, action, tostring(want_offered)))
    end
  end
end)
