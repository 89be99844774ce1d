/* An empty unit, so a component library always has a source. */
