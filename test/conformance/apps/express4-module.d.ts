// `express4` is Express 4 under an npm alias; its API is the part of Express 5's types the
// conformance app uses, so it borrows them (@types/express 4 and 5 cannot both be installed).
declare module 'express4' {
  import express from 'express';
  export default express;
}
