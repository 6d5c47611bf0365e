"""Child processes, for upstream stdio servers and installers alike.

``spawn`` starts a child in its own process group, sandboxed when a :class:`Sandbox` is given
(its own uid, PID/mount namespaces, private HOME, no data directory); ``stop`` ends it and every
descendant (:mod:`.tree`); :mod:`.env` holds the environment allow-lists; :class:`OutputTail`
bounds what is kept of a child's output; ``run_command`` runs one short-lived command.
Nothing here imports ``upstream``, ``installer``, ``services`` or ``api``.
"""
