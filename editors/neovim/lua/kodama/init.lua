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
  local summary = require('kodama.ui').sessions_summary(require('kodama.state').sessions)
  return summary == '' and '' or ('kodama: ' .. summary)
end

return M
