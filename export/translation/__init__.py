"""The MarianMT translator (translate): sources and repository writer."""
