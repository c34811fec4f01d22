export interface ImageState {
  /** A deleted image may be created again (loaded or pulled anew); its stream continues. */
  status: 'none' | 'active' | 'deleted';
  manifestDigest: string | null;
  imageId: string | null;
}

export const initialImageState = (): ImageState => ({ status: 'none', manifestDigest: null, imageId: null });
