"""The paper's experiments behind ``ardr reproduce``: each module has ``add_arguments``
and ``run`` and writes its tables (JSON + Markdown) and figures atomically to ``--out``."""
