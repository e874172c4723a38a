// The sizes that change with the input (batch, image size), passed in a uniform so that pipelines
// depend only on the model's own sizes: compiled once per model, not once per image size.
// Appended to every module (src/gpu/shaders.ts); each module binds its own `shape`.
struct Shape {
  rows: u32,     // rows of this dispatch's matrix: B * tokens, B * patches or B
  batch: u32,
  tokens: u32,   // 1 + registers + patches
  height: u32,   // pixels
  width: u32,
  grid_h: u32,   // floor(height / patch)
  grid_w: u32,
  patches: u32,  // grid_h * grid_w
}
