-- `:Kodama {sub-command} ...`: parsing, completion, and what each sub-command shows.
local client = require('kodama.client')
local state = require('kodama.state')
local ui = require('kodama.ui')

local M = {}

local INFO, WARN = vim.log.levels.INFO, vim.log.levels.WARN

local function notify(msg, level)
  require('kodama.handlers').notify(msg, level)
end

local function exec(command, args, on_result, title)
  client.exec(command, args, on_result, { title = title })
end

-- The display.actions verb a picker needs for each `:Kodama` verb (nil: every session).
local VERB_ACTION = {
  attach = 'attach',
  stop = 'stop',
  resume = 'resume',
  delete = 'delete',
  fetch = 'fetch',
  ['read the log of'] = 'logs',
}

--- Calls fn(name): the given one, else the user's pick among the sessions that offer the verb.
local function with_name(name, verb, fn)
  if name and name ~= '' then
    return fn(name)
  end
  local action = VERB_ACTION[verb] or (verb:match('^sync ') and 'sync') or nil
  exec('kodama.session.list', {}, function(sessions)
    state.set_sessions(sessions)
    local names = {}
    for _, s in ipairs(state.sessions or {}) do
      if not action or ui.offers(s, action) then
        names[#names + 1] = s.name
      end
    end
    table.sort(names)
    if #names == 0 then
      notify(action and ('no session to %s'):format(verb) or 'no sessions — :Kodama start NAME', WARN)
      return
    end
    vim.ui.select(names, { prompt = ('Kodama session to %s: '):format(verb) }, function(choice)
      if choice then
        fn(choice)
      end
    end)
  end, 'list sessions')
end

local function announce(session, what)
  if type(session) ~= 'table' then
    return
  end
  state.upsert(session)
  ui.refresh_list_buffers()
  local status = type(session.display) == 'table' and session.display.status or tostring(session.status)
  notify(('session %s %s: %s'):format(session.name, what, status), INFO)
end

-- Options `:Kodama start NAME key=value ...` accepts, as server argument keys.
local START_OPTIONS = {
  image = 'image',
  cpu = 'cpu',
  memory = 'memory',
  branch = 'branch',
  base = 'base',
  repo = 'repo',
  prompt = 'prompt',
  ['agent-command'] = 'agentCommand',
  count = 'count',
  ['idle-stop'] = 'idleStop',
  ['no-sync'] = 'noSync',
  ['no-wait'] = 'noWait',
}
local START_FLAGS = { noSync = true, noWait = true }

---@return table|nil args, string|nil err
local function parse_start(words)
  local args = { root = client.root() }
  local i = 1
  while i <= #words do
    local w = words[i]:gsub('^%-%-', '')
    local key, value = w:match('^([%w%-]+)=(.*)$')
    key = key or w
    local field = START_OPTIONS[key]
    if field and START_FLAGS[field] and value == nil then
      args[field] = true
    elseif field and value then
      if field == 'prompt' then
        -- The prompt is free text: it takes the rest of the line.
        value = table.concat(vim.list_extend({ value }, words, i + 1), ' ')
        i = #words
      end
      args[field] = value
    elseif not args.name and not w:find('=') and i == 1 then
      args.name = words[i]
    else
      return nil, ('unknown start option %q (known: %s)'):format(
        words[i],
        table.concat(vim.tbl_keys(START_OPTIONS), ', ')
      )
    end
    i = i + 1
  end
  return args
end

local function start(args)
  -- The input box's rule and words, as VS Code's: a bad name never reaches the server.
  local problem = ui.name_problem(args.name)
  if problem then
    return notify(('session name %q: %s'):format(args.name, problem), vim.log.levels.ERROR)
  end
  if args.count then
    args.count = tonumber(args.count) or args.count
  end
  exec('kodama.session.start', args, function(result)
    if type(result) == 'table' and type(result.sessions) == 'table' then
      for _, session in ipairs(result.sessions) do -- a fan-out (count=N)
        announce(session, 'started')
      end
      return
    end
    announce(result, 'started')
  end, 'start ' .. args.name)
end

local subcommands = {}

subcommands.start = {
  complete = 'start',
  run = function(words)
    local args, err = parse_start(words)
    if not args then
      return notify(err, vim.log.levels.ERROR)
    end
    if args.name then
      return start(args)
    end
    -- No name: the server's suggestion (from the current branch), Enter accepts it; then an
    -- optional task (empty Enter: an interactive session). Branch and image: key=value words.
    exec('kodama.session.suggestName', { root = args.root }, function(result)
      local suggestion = type(result) == 'table' and result.name or ''
      vim.ui.input({ prompt = 'Kodama session name: ', default = suggestion }, function(name)
        if name == nil then
          return
        end
        args.name = vim.trim(name) ~= '' and vim.trim(name) or suggestion
        if args.name == '' then
          return notify('no session name', WARN)
        end
        local problem = ui.name_problem(args.name)
        if problem then -- before asking for a task that would be thrown away
          return notify(('session name %q: %s'):format(args.name, problem), vim.log.levels.ERROR)
        end
        if args.prompt then
          return start(args)
        end
        vim.ui.input({ prompt = 'Task for the agent (empty: interactive): ' }, function(prompt)
          if prompt == nil then
            return
          end
          if vim.trim(prompt) ~= '' then
            args.prompt = vim.trim(prompt)
          end
          start(args)
        end)
      end)
    end, 'suggest a name')
  end,
}

subcommands.list = {
  complete = function()
    return { '-A', '--all-namespaces' }
  end,
  run = function(words)
    local all = words[1] == '-A' or words[1] == '--all-namespaces'
    exec('kodama.session.list', all and { allNamespaces = true } or {}, function(sessions)
      if not all then
        state.set_sessions(sessions)
      end
      ui.show_list(sessions, all)
    end, 'list sessions')
  end,
}

subcommands.attach = {
  complete = 'names',
  run = function(words)
    with_name(words[1], 'attach', function(name)
      exec('kodama.session.attach', { name = name }, function(result)
        -- opened: the server had us open the terminal (kodama/openTerminal). Otherwise show
        -- the command line so it can be run by hand.
        if type(result) == 'table' and not result.opened and type(result.argv) == 'table' then
          notify('attach with: ' .. table.concat(result.argv, ' '), WARN)
        end
      end, 'attach ' .. name)
    end)
  end,
}

local function simple(command, what)
  return {
    complete = 'names',
    run = function(words)
      with_name(words[1], what, function(name)
        exec(command, { name = name }, function(session)
          announce(session, what == 'stop' and 'stopped' or 'resumed')
        end, what .. ' ' .. name)
      end)
    end,
  }
end
subcommands.stop = simple('kodama.session.stop', 'stop')
subcommands.resume = simple('kodama.session.resume', 'resume')

subcommands.delete = {
  complete = 'names',
  run = function(words, bang)
    with_name(words[1], 'delete', function(name)
      local function delete()
        exec('kodama.session.delete', { name = name, confirm = true }, function(result)
          if type(result) == 'table' and result.deleted then
            state.remove(name)
            ui.refresh_list_buffers()
            notify(('session %s deleted'):format(name), INFO)
          end
        end, 'delete ' .. name)
      end
      if bang then
        return delete()
      end
      local prompt = ('Delete Kodama session %s with its workspace and home volumes?'):format(name)
      vim.ui.select({ 'Delete', 'Cancel' }, { prompt = prompt }, function(choice)
        if choice == 'Delete' then
          delete()
        end
      end)
    end)
  end,
}

subcommands.fetch = {
  complete = 'names',
  run = function(words)
    with_name(words[1], 'fetch', function(name)
      exec('kodama.session.fetch', { name = name }, function(r)
        if type(r) == 'table' then
          local summary = type(r.display) == 'table' and r.display.summary
          notify(summary or ('fetched %s at %s'):format(tostring(r.branch), tostring(r.commit):sub(1, 12)), INFO)
        end
      end, 'fetch ' .. name)
    end)
  end,
}

subcommands.get = {
  complete = 'names',
  run = function(words)
    with_name(words[1], 'show', function(name)
      exec('kodama.session.get', { name = name }, function(session)
        state.upsert(session)
        notify(table.concat(ui.session_lines(session), '\n'), INFO)
      end, 'get ' .. name)
    end)
  end,
}

subcommands.status = {
  complete = 'names',
  run = function(words)
    with_name(words[1], 'show', function(name)
      exec('kodama.session.get', { name = name }, function(session)
        state.upsert(session)
        exec('kodama.sync.status', { name = name }, function(sync)
          if type(sync) == 'table' then
            state.sync[name] = sync
          end
          notify(table.concat(ui.session_lines(session, sync), '\n'), INFO)
        end, 'sync status ' .. name)
      end, 'get ' .. name)
    end)
  end,
}

local SYNC_VERBS = { 'status', 'start', 'stop', 'flush', 'pause', 'resume', 'push', 'pull' }
local SYNC_COPY = { push = 'pushed %d file(s) to %s', pull = 'pulled %d file(s) from %s' }
subcommands.sync = {
  complete = function(n)
    return n == 1 and SYNC_VERBS or nil
  end,
  run = function(words, bang)
    local verb = words[1]
    if not vim.list_contains(SYNC_VERBS, verb or '') then
      return notify(
        'usage: :Kodama[!] sync {' .. table.concat(SYNC_VERBS, '|') .. '} [NAME] [PATH]',
        vim.log.levels.ERROR
      )
    end
    with_name(words[2], 'sync ' .. verb, function(name)
      local args = { name = name }
      if SYNC_COPY[verb] then
        args.path = words[3]
        args.force = (verb == 'pull' and bang) or nil -- `:Kodama! sync pull`: overwrite local edits
      end
      exec('kodama.sync.' .. verb, args, function(r)
        if SYNC_COPY[verb] then
          return notify(SYNC_COPY[verb]:format(type(r) == 'table' and r.files or 0, name), INFO)
        end
        if type(r) == 'table' then
          state.sync[name] = r
        end
        notify(table.concat(vim.list_extend({ name }, ui.sync_lines(r)), '\n'), INFO)
      end, 'sync ' .. verb .. ' ' .. name)
    end)
  end,
}

require('kodama.verbs').add(subcommands, { exec = exec, with_name = with_name, notify = notify })

subcommands.cancel = {
  run = function()
    if not require('kodama.progress').cancel_all() then
      notify('nothing to cancel', INFO)
    end
  end,
}

M.subcommands = subcommands

---@return string[]
function M.names()
  local sorted = vim.tbl_keys(subcommands)
  table.sort(sorted)
  return sorted
end

local function session_names()
  return state.names() or (client.list_sync(1500) and state.names()) or {}
end

local function filter(items, lead)
  return vim.tbl_filter(function(item)
    return vim.startswith(item, lead)
  end, items)
end

--- Completion for `:Kodama`: sub-commands, then session names or the sub-command's words.
function M.complete(arglead, cmdline, cursorpos)
  local before = cmdline:sub(1, cursorpos)
  -- Drop the command itself (it may be abbreviated, e.g. `:Kod`).
  local args = (before:gsub('^%s*%S+%s*', '', 1))
  local words = vim.split(args, '%s+', { trimempty = true })
  -- Index of the word being completed (an empty lead means a new word after a space).
  local n = #words
  if arglead == '' then
    n = n + 1
  end
  if n <= 1 then
    return filter(M.names(), arglead)
  end
  local sub = subcommands[words[1]]
  if not sub or not sub.complete then
    return {}
  end
  local pos = n - 1 -- position within the sub-command's own words
  if sub.complete == 'names' then
    return pos == 1 and filter(session_names(), arglead) or {}
  elseif sub.complete == 'start' then
    if pos == 1 then
      return {}
    end
    local keys = {}
    for key, field in pairs(START_OPTIONS) do
      keys[#keys + 1] = START_FLAGS[field] and key or (key .. '=')
    end
    table.sort(keys)
    return filter(keys, arglead)
  elseif words[1] == 'sync' and pos == 2 then
    return filter(session_names(), arglead)
  end
  return filter(sub.complete(pos, session_names) or {}, arglead)
end

--- Runs `:Kodama` with its words (words[1] is the sub-command; none lists sessions).
---@param words string[]
---@param bang boolean|nil
function M.run(words, bang)
  local name = words[1] or 'list'
  local sub = subcommands[name]
  if not sub then
    return notify(
      ('unknown sub-command %q (one of: %s)'):format(name, table.concat(M.names(), ', ')),
      vim.log.levels.ERROR
    )
  end
  sub.run(vim.list_slice(words, 2), bang)
end

return M
