"""Colorization across machines on a Ray cluster (the ``ray`` extra: ``pip install
'tinct[ray]'``).

- :func:`tinct.cluster.photos.colorize_photos_on_ray`: a batch plan (the same one the local
  engine runs) through Ray Data's ``map_batches`` with a pool of actors, one loaded
  ``Colorizer`` each.
- :func:`tinct.cluster.film.colorize_video_on_ray`: a film split at key frames into parts
  colorized in parallel and joined without re-encoding.
- :func:`tinct.cluster.runtime.ray_session`: connects to a cluster, or starts a local one.
"""
