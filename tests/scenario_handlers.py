"""A handler that scenario files in the tests name as `scenario_handlers:list_repositories`."""


def list_repositories(request, registry):
    return {"repositories": registry.repositories()}
