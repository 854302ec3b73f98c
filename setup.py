"""Only the C extension lives here; everything else is in pyproject.toml.

The extension (`controller/adapters/_event_scan.c`) is the event decoder's fast path. It is
optional: without a C compiler the build skips it and the msgspec path decodes everything.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "controller.adapters._event_scan",
            ["controller/adapters/_event_scan.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
