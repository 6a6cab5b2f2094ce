"""The errors a user can fix: the CLI prints them as one line and exits with status 2."""
from nscharacterize.config import ConfigError
from nscharacterize.reports.compare import CompareError
from nscharacterize.reports.store import RunDirError
from nscharacterize.taxonomy.rules import RuleFileError
from nscharacterize.workloads.base import WorkloadError

USER_ERRORS = (CompareError, ConfigError, RunDirError, RuleFileError, WorkloadError)
