"""Storage backends behind one interface (:mod:`jt808.storage.base`)."""
