"""Library building: the put.io file tree, safe local names, NFO text and the pure planner that
turns a put.io listing into the .strm/.nfo/.srt files of a media-server library."""
