-- Public Lua API of the Kodama Neovim client.
local M = {}

--- Runs `:Kodama` words from Lua: require('kodama').run({'start', 'fix-login'}).
function M.run(words, bang)
  require('kodama.commands').run(words, bang)
end

--- Runs a server command directly: require('kodama').exec('kodama.session.get', {name = 'x'}, cb).
M.exec = function(...)
  return require('kodama.client').exec(...)
end

--- Sessions last reported by the server (nil before the first report).
function M.sessions()
  return require('kodama.state').sessions
end

--- Short text for a statusline: "kodama: 2 running, 1 waiting" ('' when nothing runs).
function M.statusline()
  local sessions = require('kodama.state').sessions or {}
  local running, waiting = 0, 0
  for _, s in ipairs(sessions) do
    if s.status == 'Running' then
      running = running + 1
    end
    if type(s.agent) == 'table' and s.agent.state == 'waiting' then
      waiting = waiting + 1
    end
  end
  if running == 0 and waiting == 0 then
    return ''
  end
  local text = ('kodama: %d running'):format(running)
  if waiting > 0 then
    text = text .. (', %d waiting'):format(waiting)
  end
  return text
end

return M
