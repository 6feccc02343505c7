"""mmdemo's web app, as a package: ``python app.py`` parses :mod:`webapp.settings`, builds the page
with :func:`webapp.main.build_app` and serves it with :func:`webapp.main.launch`.

- :mod:`webapp.settings`: :class:`~webapp.settings.AppSettings`, the command line, ``--auth`` pairs;
- :mod:`webapp.common`: what every tab shares (errors as ``gr.Error``, required inputs, raw image
  uploads, per-model concurrency, example files);
- :mod:`webapp.tabs`: one module per tab, each with ``build(settings, ...)``; handlers call mmdemo
  and return each output by its component;
- :mod:`webapp.main`: the page (status line + tabs) and how it is served;
- :mod:`webapp.mcp_tools`: the app's capabilities as MCP tools (``--mcp``), with
  :mod:`webapp.tool_inputs` (file arguments as URL, base64 or allowed path) and
  :mod:`webapp.mcp_access` (the login and the tool list of the MCP endpoint).
- :mod:`webapp.limits`, :mod:`webapp.sessions`, :mod:`webapp.fair_use`, :mod:`webapp.upkeep`: the
  limits of a shared link (disk, sessions, per-visitor requests, the Fusion Lab's turns) and the
  guard and sweeper that enforce them around every queued handler.
"""
