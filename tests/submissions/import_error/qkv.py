"""A submission that imports a module that does not exist."""

import attention_helpers_that_do_not_exist  # noqa: F401
