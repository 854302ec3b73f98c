"""Only the C extensions live here; everything else is in pyproject.toml.

`controller/adapters/_event_scan.c` is the event decoder's fast path, and
`controller/ingest/_segments.c` the sessionizer's inner loops. Both are optional: without a C
compiler the build skips them and the numpy / msgspec code they shortcut does the work.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            name,
            [source],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
        for name, source in [
            ("controller.adapters._event_scan", "controller/adapters/_event_scan.c"),
            ("controller.ingest._segments", "controller/ingest/_segments.c"),
        ]
    ]
)
