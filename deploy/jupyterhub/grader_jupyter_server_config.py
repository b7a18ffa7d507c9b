# Jupyter Server settings for the grader account's shared JupyterLab (the Formgrader service), installed as
# ~nnfs-grader/.jupyter/jupyter_server_config.py by setup.sh: Formgrader shows its pages in frames inside
# JupyterLab, which the browser allows only when the server lets its own pages be framed.

c = get_config()  # noqa: F821 (provided by Jupyter Server when it loads this file)

c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
