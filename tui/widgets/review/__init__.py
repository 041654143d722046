"""The diff review: changed files, hunks, the reviewer's findings."""
