"""--repo: which URLs are accepted, what the remote holds, and the credentials to clone it.

A URL that carries credentials is refused (it would end up in the pod's .git/config); a token
or an SSH key goes into the session's credentials Secret and reaches git only as a file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast
from urllib.parse import urlsplit

from kodama.errors import InvalidInput

RepoKind = Literal["https", "http", "ssh", "git", "file", "local"]

# -- --repo URLs -------------------------------------------------------------------------------

# Tokens some hosts accept as the user name of an HTTPS URL (GitHub, GitLab, Bitbucket, ...).
_TOKEN_USER = re.compile(
    r"^(gh[pousr]_|github_pat_|glpat-|ATBB|x-token-auth:)|^[A-Za-z0-9_\-]{36,}$"
)
_SCP = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^@/:]+):(?!//)(?P<path>.+)$")


@dataclass(frozen=True)
class RepoURL:
    url: str  # what the pod clones: credential-free; local paths made absolute
    kind: RepoKind
    host: str | None = None

    @property
    def credential_scope(self) -> str | None:
        """`scheme://host[:port]`: the only URLs the credential helper answers for."""
        if self.kind not in ("https", "http") or not self.host:
            return None
        return f"{self.kind}://{self.host}"


def _creds_error(url: str) -> InvalidInput:
    return InvalidInput(
        "--repo URL contains credentials; they would be stored in the pod's .git/config",
        hint="give the URL without them and pass the token with --git-token-env VAR or "
        "--git-token-file FILE (or set git.secretName)",
    )


def parse_repo(text: str, cwd: Path) -> RepoURL:
    """Classify a --repo value and reject any that carries credentials. No I/O but stat."""
    text = text.strip()
    if not text:
        raise InvalidInput("--repo must not be empty")
    if text.startswith("-"):
        # git and ssh would read it as an option (-oProxyCommand=..., --upload-pack=...).
        raise InvalidInput(f"invalid --repo {text!r}: it must not start with '-'")
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme:
        kind = scheme.group(1).lower()
        kind = {"git+ssh": "ssh", "ssh+git": "ssh"}.get(kind, kind)
        if kind not in ("https", "http", "ssh", "git", "file"):
            raise InvalidInput(f"unsupported --repo scheme {scheme.group(1)!r}")
        parts = urlsplit(text)
        if parts.password is not None:
            raise _creds_error(text)
        if kind in ("https", "http"):
            if parts.username and _TOKEN_USER.search(parts.username):
                raise _creds_error(text)
            if parts.query:
                raise InvalidInput(
                    "--repo URL has a query string (it may carry a token); remove it"
                )
        if kind == "file":
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise InvalidInput("a file:// --repo needs an absolute path")
            return RepoURL(text, "file")
        host = parts.hostname or ""
        if not host:
            raise InvalidInput(f"--repo URL {text!r} has no host")
        if host.startswith("-"):
            raise InvalidInput(f"invalid --repo {text!r}: its host must not start with '-'")
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        if ":" in host:  # IPv6 literal
            netloc = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
        return RepoURL(text, cast(RepoKind, kind), netloc)
    if "::" in text.split("/", 1)[0]:
        raise InvalidInput("transport::address --repo values (ext::, fd::) are not supported")
    scp = _SCP.match(text)
    if scp and "/" not in text.split(":", 1)[0]:
        if ":" in (scp.group("user") or "") or re.match(r"^[^/]*:[^/]*@", text):
            raise _creds_error(text)
        if scp.group("host").startswith("-"):
            raise InvalidInput(f"invalid --repo {text!r}: its host must not start with '-'")
        return RepoURL(text, "ssh", scp.group("host"))
    return RepoURL(str((cwd / Path(text).expanduser()).resolve()), "local")


def ls_remote(url: str, patterns: list[str]) -> dict[str, str] | None:
    """Refs of a remote, best effort (None when unreachable or it needs credentials here)."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="false")  # never a dialog
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=10")
    try:
        proc = subprocess.run(
            ["git", "ls-remote", "--symref", "--", url, *patterns],
            capture_output=True,
            text=True,
            check=False,
            timeout=20,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    refs: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        value, _, ref = line.partition("\t")
        if value.startswith("ref: "):
            refs[f"{ref}@symref"] = value.removeprefix("ref: ")
        else:
            refs[ref] = value
    return refs


# -- credentials for --repo --------------------------------------------------------------------


def _read(path_text: str, flag: str) -> bytes:
    path = Path(path_text).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {flag} {path}: {exc.strerror}") from None


def credentials(
    repo: str | None,
    cwd: Path,
    *,
    token_env: str | None = None,
    token_file: str | None = None,
    ssh_key: str | None = None,
    known_hosts: str | None = None,
) -> dict[str, bytes]:
    """Keys of the credentials Secret for cloning --repo (`git-token` or an SSH key)."""
    given = [f for f, v in (("--git-token-env", token_env), ("--git-token-file", token_file),
                            ("--git-ssh-key", ssh_key), ("--git-known-hosts", known_hosts)) if v]  # fmt: skip
    if not given:
        return {}
    if not repo:
        raise InvalidInput(f"{given[0]} only applies with --repo URL")
    url = parse_repo(repo, cwd)
    data: dict[str, bytes] = {}
    if token_env or token_file:
        if token_env and token_file:
            raise InvalidInput("--git-token-env and --git-token-file cannot be used together")
        if url.kind == "ssh":
            raise InvalidInput("a token is for HTTPS URLs; use --git-ssh-key for an ssh URL")
        if token_env:
            raw = os.environ.get(token_env, "").encode()
            if not raw.strip():
                raise InvalidInput(f"environment variable {token_env} is empty or not set")
        else:
            raw = _read(token_file or "", "--git-token-file")
        token = raw.strip()
        if not token or b"\n" in token or b"\r" in token:
            raise InvalidInput("the git token must be one non-empty line")
        data["git-token"] = token
    if ssh_key or known_hosts:
        if url.kind != "ssh":
            raise InvalidInput("--git-ssh-key and --git-known-hosts need an ssh --repo URL")
        if not ssh_key:
            raise InvalidInput("--git-known-hosts needs --git-ssh-key")
        key = _read(ssh_key, "--git-ssh-key")
        if b"PRIVATE KEY-----" not in key:
            raise InvalidInput(f"--git-ssh-key {ssh_key} is not a private key file")
        data["ssh-privatekey"] = key
        data["known_hosts"] = (
            _read(known_hosts, "--git-known-hosts") if known_hosts else _known_host(url)
        )
    return data


def _known_host(url: RepoURL) -> bytes:
    """The host's entries from ~/.ssh/known_hosts, so the pod checks the key strictly."""
    host = url.host or ""
    parsed = urlsplit(url.url) if "://" in url.url else None
    if parsed is not None and parsed.port:
        host = f"[{parsed.hostname}]:{parsed.port}"
    known = Path.home() / ".ssh" / "known_hosts"
    lines: list[str] = []
    if known.is_file() and shutil.which("ssh-keygen"):
        proc = subprocess.run(
            ["ssh-keygen", "-F", host, "-f", str(known)],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith("#")]
    if not lines:
        raise InvalidInput(
            f"no known_hosts entry for {host} in {known}",
            hint=f"pass --git-known-hosts FILE (e.g. from `ssh-keyscan {url.host}` after "
            "checking the fingerprint)",
        )
    return ("\n".join(lines) + "\n").encode()
