// Tensors read through textures. On llvmpipe a texel load from a read-only storage texture is
// several times cheaper than a storage-buffer load (docs/llvmpipe.md), and a texture has no
// storage-binding size limit. A tensor (or a strided window of one) is laid out as a linear array
// of texels in a 2-D texture: texel i at (i & (width - 1), i >> log2(width)), the width a power of
// two, filled by the runtime with one or two copyBufferToTexture calls before the first kernel of
// a run that reads it.

/** A texture the runtime fills from a tensor's buffer (same encoder, before the dispatch). */
export interface TextureBinding {
  kind: 'texture';
  binding: number;
  /** The WGSL name. */
  name: string;
  format: 'rgba32float' | 'r32float';
  width: number;
  height: number;
  /** copyBufferToTexture calls that fill it: the buffer must hold `bufferBytesNeeded` bytes. */
  copies: { bufferOffset: number; bytesPerRow: number; originY: number; width: number; height: number }[];
  bufferBytesNeeded: number;
}

/** Texture rows are this many texels or more; a power of two, so coordinates are a shift and a mask. */
const MIN_TEXTURE_WIDTH = 64;
/** WebGPU's default maxTextureDimension2D: rows past it widen the texture instead. */
export const MAX_TEXTURE_DIM = 8192;

/** `texels` texels of `perTexel` f32 each, from byte `base` of a buffer. */
export function linearTexture(binding: number, name: string, texels: number, perTexel: 1 | 4, base: number): TextureBinding {
  const texelBytes = perTexel * 4;
  let width = MIN_TEXTURE_WIDTH;
  while (Math.ceil(texels / width) > MAX_TEXTURE_DIM) width *= 2;
  const fullRows = Math.floor(texels / width);
  const rest = texels - fullRows * width;
  const copies: TextureBinding['copies'] = [];
  if (fullRows > 0) copies.push({ bufferOffset: base, bytesPerRow: width * texelBytes, originY: 0, width, height: fullRows });
  if (rest > 0) {
    copies.push({ bufferOffset: base + fullRows * width * texelBytes, bytesPerRow: width * texelBytes, originY: fullRows, width: rest, height: 1 });
  }
  return {
    kind: 'texture',
    binding,
    name,
    format: perTexel === 4 ? 'rgba32float' : 'r32float',
    width,
    height: fullRows + (rest > 0 ? 1 : 0),
    copies,
    bufferBytesNeeded: base + texels * texelBytes,
  };
}

/** The WGSL declarations of a texture binding: the read-only storage texture, and its row shift
 *  as a constant unless the kernel reads it from its sizes (`shifted`: the width grows with the
 *  tensor past 8192 rows, so a larger batch would otherwise be a new pipeline). */
export function textureDecl(t: Pick<TextureBinding, 'binding' | 'name' | 'format' | 'width'>, shifted = false): string[] {
  const decl = `@group(0) @binding(${t.binding}) var ${t.name}: texture_storage_2d<${t.format}, read>;`;
  return shifted ? [decl] : [decl, `const ${t.name}_SHIFT = ${Math.log2(t.width)}u;`];
}

/** log2 of a texture's width: its row shift. */
export const textureShift = (t: Pick<TextureBinding, 'width'>): number => Math.log2(t.width);

/** The texel at linear index `index` (a u32 WGSL expression, used twice: bind it first); `shift`,
 *  a u32 expression, where the shift is not the texture's constant. */
export function texelLoad(name: string, index: string, shift = `${name}_SHIFT`): string {
  return `textureLoad(${name}, vec2u(${index} & ((1u << ${shift}) - 1u), ${index} >> ${shift}))`;
}
