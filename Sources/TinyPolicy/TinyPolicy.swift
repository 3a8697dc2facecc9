// The tiny policy module (issue 3).
