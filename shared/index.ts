// The domain of acr-image-sync. Nothing under shared/ imports @azure/functions.
export {};
