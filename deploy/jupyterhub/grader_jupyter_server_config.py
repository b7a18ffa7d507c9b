# Jupyter Server settings for the grader account's shared JupyterLab (the Formgrader service), installed as
# ~nnfs-grader/.jupyter/jupyter_server_config.py by setup.sh.

c = get_config()  # noqa: F821 (provided by Jupyter Server when it loads this file)

# Formgrader shows its pages in frames inside JupyterLab, which the browser allows only when the server lets its
# own pages be framed.
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}

# Formgrader's server extension, which setup.sh turns off in the course environment for every other account. A
# name listed here wins over the environment's jupyter_server_config.d; the other extensions stay as they are.
c.ServerApp.jpserver_extensions = {"nbgrader.server_extensions.formgrader": True}
