//! VADER sentiment scoring (in progress).
