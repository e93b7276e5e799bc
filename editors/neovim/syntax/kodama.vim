" The kodama://sessions buffer.
if exists('b:current_syntax')
  finish
endif

syntax match kodamaHeader /\%1l.*/
syntax keyword kodamaRunning Running watching
syntax keyword kodamaPending Pending Starting starting connecting scanning staging transitioning
syntax keyword kodamaStopped Stopped paused exited idle
syntax keyword kodamaFailed Failed error
syntax keyword kodamaWaiting waiting
syntax match kodamaConflicts /(\d\+ conflicts)/
syntax match kodamaBranch /\<\S\+\/\S\+\>/
syntax match kodamaEmpty /^(no sessions.*/

highlight default link kodamaHeader Title
highlight default link kodamaRunning DiagnosticOk
highlight default link kodamaPending DiagnosticInfo
highlight default link kodamaStopped Comment
highlight default link kodamaFailed DiagnosticError
highlight default link kodamaWaiting DiagnosticWarn
highlight default link kodamaConflicts DiagnosticWarn
highlight default link kodamaBranch Identifier
highlight default link kodamaEmpty Comment

let b:current_syntax = 'kodama'
