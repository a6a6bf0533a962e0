"""The one error type of the trainer layer."""


class TrainerError(Exception):
    """A problem the user can fix (a bad flag, missing data, a bad path, a name collision).

    Raised where input enters the trainer (flags, files, export targets) with a message that names the bad
    value and what was expected; the CLI prints it as one line and exits with status 2.
    """
