"""Registry events: distribution-compatible webhook notifications and the events extension.

`registry.notifications` (observer.py) turns store changes and pulls into events (record.py),
delivered per endpoint off the request path (sinks.py, configured as in config.py) and kept in a
bounded log (log.py) that the `_events` extension serves (extension.py). See docs/events.md.
"""
