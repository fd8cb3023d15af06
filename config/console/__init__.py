"""Console pages that combine several apps (home, member 360°) and the console's navigation.

They sit in ``config``, above every app, because they read from all of them; each read goes through the
owning app's selectors.
"""
