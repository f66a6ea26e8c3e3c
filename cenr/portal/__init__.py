"""The reviewer portal: a small server-rendered web application over the same pipeline.

``auth.py`` users, passwords and sessions; ``app.py`` the application and its pages and
JSON API; ``uploads.py`` how uploaded files reach the disk. Started by ``cenr serve``.
"""
