"""Finding a repository's git directories with plain filesystem checks (no dependencies).

Kept import-light: the daemon client uses it on every `grite` invocation.
"""

from __future__ import annotations

import os

__all__ = ["find_git_dirs"]


def _git_dir_of(dot_git: str) -> str | None:
    if os.path.isdir(dot_git):
        return dot_git
    if os.path.isfile(dot_git):
        with open(dot_git, encoding="utf-8", errors="replace") as fh:
            text = fh.read().strip()
        if text.startswith("gitdir:"):
            target = text[len("gitdir:") :].strip()
            return os.path.realpath(os.path.join(os.path.dirname(dot_git), target))
    return None


def common_dir_of(git_dir: str) -> str:
    """The shared git directory of a (possibly linked-worktree) git directory."""
    commondir = os.path.join(git_dir, "commondir")
    if os.path.isfile(commondir):
        with open(commondir, encoding="utf-8") as fh:
            target = fh.read().strip()
        return os.path.realpath(os.path.join(git_dir, target))
    return git_dir


def find_git_dirs(start: str) -> tuple[str | None, str, str] | None:
    """Return `(workdir or None, git_dir, common_dir)` of the repository containing `start`."""
    here = os.path.realpath(start)
    while True:
        git_dir = _git_dir_of(os.path.join(here, ".git"))
        if git_dir is not None:
            return here, git_dir, common_dir_of(git_dir)
        if (
            os.path.isfile(os.path.join(here, "HEAD"))
            and os.path.isdir(os.path.join(here, "objects"))
            and os.path.isdir(os.path.join(here, "refs"))
        ):
            return None, here, here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
