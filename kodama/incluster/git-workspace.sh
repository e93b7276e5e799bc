# Kodama's in-pod git steps, run through `kubectl exec … sh -c "<this file>" kodama CMD …`.
# POSIX sh (busybox is enough); only $HOME, $KODAMA_WORKSPACE and $KODAMA_SECRETS are used.
# Every command is idempotent: `kodama.ready` in the workspace repository's config marks a
# workspace that was filled once; nothing here touches it again (the agent's work is safe).
# The agent can lose that marker (`git config --unset`, `rm -rf .git && git init`), so filling
# also needs a workspace that is empty, or holds only an unfinished fill of ours
# (.git/kodama-filling). Anything else is refused with exit code 3, and nothing is deleted.
#
#   probe NAME EMAIL                                  -> prints "ready" or "empty"
#   ship  NAME EMAIL BRANCH BASE_COMMIT BASE_BRANCH   stdin: tar of repo.bundle [dirty.tar deleted]
#   clone NAME EMAIL URL SCOPE BRANCH BASE BASE_COMMIT stdin: the credential helper script
#   init  NAME EMAIL BRANCH
set -eu
ws="${KODAMA_WORKSPACE:?KODAMA_WORKSPACE is not set}"
state="$HOME/.kodama"
# Never let git discover a repository above the workspace (the test node runs on a host whose
# folders may sit inside another checkout).
GIT_CEILING_DIRECTORIES=$(dirname "$ws")
GIT_TERMINAL_PROMPT=0
export GIT_CEILING_DIRECTORIES GIT_TERMINAL_PROMPT
cmd=$1 name=$2 email=$3
shift 3
# Values reach git as positional arguments: one starting with '-' would be read as an option.
for arg in "$@"; do
  case $arg in -*) echo "kodama: refusing argument $arg (starts with '-')" >&2; exit 1 ;; esac
done

die() { echo "kodama: $*" >&2; exit 1; }
g() { git -C "$ws" "$@"; }

command -v git >/dev/null 2>&1 || die "git is not installed in the image"

# A PVC's root usually belongs to root (group fsGroup): tell git to trust it anyway.
if ! git config --global --get-all safe.directory 2>/dev/null | grep -qxF "$ws"; then
  git config --global --add safe.directory "$ws"
fi

ready() { [ -d "$ws/.git" ] && [ "$(g config --get kodama.ready 2>/dev/null || true)" = true ]; }

identity() {  # only when none is configured (repository, global or system)
  g config user.name >/dev/null 2>&1 || g config user.name "$name"
  g config user.email >/dev/null 2>&1 || g config user.email "$email"
}

fresh() {  # a previous attempt that did not finish left .git/kodama-filling: carry on over it
  if [ ! -f "$ws/.git/kodama-filling" ]; then
    extra=$(ls -A "$ws" | grep -vxF 'lost+found' | head -n 3 | tr '\n' ' ')
    if [ -n "$extra" ]; then
      echo "kodama: the workspace is not empty but was never filled by Kodama (it holds: $extra)" >&2
      echo "kodama: not touching it; the agent's files and .git stay as they are" >&2
      exit 3
    fi
  fi
  g init -q
  : > "$ws/.git/kodama-filling"
}

finish() {  # BRANCH BASE_COMMIT
  grep -qxF 'lost+found/' "$ws/.git/info/exclude" 2>/dev/null ||
    echo 'lost+found/' >> "$ws/.git/info/exclude"
  identity
  g config kodama.branch "$1"
  [ -z "$2" ] || g config kodama.base "$2"
  g config kodama.ready true
  rm -f "$ws/.git/kodama-filling"
}

case $cmd in
probe)
  if ready; then identity; echo ready; else echo empty; fi
  ;;
ship)
  branch=$1 base=$2
  ready && exit 0
  # Refused before reading anything: the sender sees the pipe close and reports this error.
  fresh
  # Unpacked on the workspace volume (inside .git, invisible to sync): the home volume is small.
  tmp="$ws/.git/kodama-ship"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  tar -xf - -C "$tmp"
  # The whole pack is unbundled, so the base commit is present even when only HEAD holds it.
  g fetch -q --no-tags "$tmp/repo.bundle" '+refs/heads/*:refs/remotes/local/*' '+refs/tags/*:refs/tags/*' ||
    die "could not read the shipped bundle"
  g cat-file -e "$base^{commit}" 2>/dev/null || die "base commit $base is not in the shipped bundle"
  g checkout -q -f -B "$branch" "$base"
  if [ -f "$tmp/dirty.tar" ]; then tar -xf "$tmp/dirty.tar" -C "$ws"; fi
  if [ -s "$tmp/deleted" ]; then
    while IFS= read -r path; do rm -f -- "$ws/$path"; done < "$tmp/deleted"
  fi
  finish "$branch" "$base"
  ;;
clone)
  url=$1 scope=$2 branch=$3 base=$4 base_commit=$5
  ready && exit 0
  mkdir -p "$state/bin"
  cat > "$state/bin/git-credential-kodama"
  chmod 0755 "$state/bin/git-credential-kodama"
  fresh
  g remote remove origin 2>/dev/null || true
  g remote add -- origin "$url"
  secrets="${KODAMA_SECRETS:-}/git"
  if [ -n "$scope" ] && [ -r "$secrets/token" ]; then
    # Single quotes: $HOME is expanded by the shell git runs helpers in, not written here.
    # shellcheck disable=SC2016
    g config "credential.$scope.helper" '!"$HOME/.kodama/bin/git-credential-kodama"'
  fi
  if [ -r "$secrets/ssh-privatekey" ]; then
    # shellcheck disable=SC2016
    g config core.sshCommand 'ssh -i "$KODAMA_SECRETS/git/ssh-privatekey" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KODAMA_SECRETS/git/known_hosts"'
  fi
  g fetch -q origin || die "could not fetch $url (see the git error above)"
  g remote set-head origin -a >/dev/null 2>&1 || true
  start=
  if [ -n "$base_commit" ] && g cat-file -e "$base_commit^{commit}" 2>/dev/null; then
    start=$base_commit
  elif [ -n "$base" ]; then
    start=$(g rev-parse -q --verify "refs/remotes/origin/$base^{commit}" ||
      g rev-parse -q --verify "$base^{commit}") || die "--base $base is not a branch, tag or commit of $url"
  elif g rev-parse -q --verify "refs/remotes/origin/$branch" >/dev/null; then
    # The session branch exists upstream (named with --branch): continue it.
    start=$(g rev-parse "refs/remotes/origin/$branch")
  else
    start=$(g rev-parse -q --verify "refs/remotes/origin/HEAD^{commit}" 2>/dev/null || true)
    if [ -z "$start" ]; then  # HEAD names no branch (a bare repository pushed to): its only one
      heads=$(g for-each-ref --format='%(refname)' refs/remotes/origin/ | grep -vx 'refs/remotes/origin/HEAD' || true)
      n=$(printf '%s\n' "$heads" | grep -c . || true)
      case $n in
      0) ;;
      1) start=$(g rev-parse "$heads") ;;
      *) die "the HEAD of $url names no branch and it has several: choose one with --base BRANCH" ;;
      esac
    fi
  fi
  if [ -n "$start" ]; then
    g checkout -q -f -B "$branch" "$start"
    if g rev-parse -q --verify "refs/remotes/origin/$branch" >/dev/null; then
      g branch -q --set-upstream-to="origin/$branch" "$branch"
    fi
  else  # an empty repository: the session branch is born with the first commit
    g symbolic-ref HEAD "refs/heads/$branch"
  fi
  finish "$branch" "$start"
  ;;
init)
  branch=$1
  ready && exit 0
  fresh
  g symbolic-ref HEAD "refs/heads/$branch"
  finish "$branch" ""
  ;;
*)
  die "unknown command $cmd"
  ;;
esac
